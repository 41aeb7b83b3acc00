#!/usr/bin/env bash
# Installs (if missing) and starts the services the test suite needs, on 127.0.0.1 only:
# RabbitMQ and Alertmanager (and openssl, chromium for the TLS and status page tests). Idempotent: fine to run when they are already installed and running.
set -euo pipefail

AMQP_PORT="${CHARTPILOT_TEST_AMQP_PORT:-5672}"

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo "$@"; else
      echo "test-services: need root to run: $*" >&2; exit 1; fi
  else "$@"; fi
}

# The TLS tests make a throwaway PKI and serve it with openssl.
if ! command -v openssl >/dev/null 2>&1; then
  echo "test-services: installing openssl from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  need_root apt-get update -qq
  need_root apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi

# The status page is read by a real browser: Debian's headless chromium.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test-services: installing chromium from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  need_root apt-get update -qq
  need_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
  echo "test-services: installing rabbitmq-server from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d keeps the package's own service start from binding on all interfaces.
  need_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  need_root apt-get update -qq
  need_root apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
  need_root rm -f /usr/sbin/policy-rc.d
fi

# Loopback only: AMQP, epmd and Erlang distribution all listen on 127.0.0.1.
want_conf="listeners.tcp.default = 127.0.0.1:${AMQP_PORT}
loopback_users.guest = true
# Tests publish in bursts; keep the disk alarm from blocking publishers on small disks.
disk_free_limit.absolute = 50MB"
want_env='NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"'
changed=0
need_root mkdir -p /etc/rabbitmq
if [ "$(cat /etc/rabbitmq/rabbitmq.conf 2>/dev/null)" != "$want_conf" ]; then
  printf '%s\n' "$want_conf" | need_root tee /etc/rabbitmq/rabbitmq.conf >/dev/null; changed=1
fi
if [ "$(cat /etc/rabbitmq/rabbitmq-env.conf 2>/dev/null)" != "$want_env" ]; then
  printf '%s\n' "$want_env" | need_root tee /etc/rabbitmq/rabbitmq-env.conf >/dev/null; changed=1
fi

export RABBITMQ_NODENAME=rabbit@localhost
is_up() { rabbitmqctl -n rabbit@localhost -q status >/dev/null 2>&1; }

if [ "$changed" = 1 ] && is_up; then
  echo "test-services: configuration changed; restarting rabbitmq" >&2
  rabbitmqctl -n rabbit@localhost -q stop >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do is_up || break; sleep 1; done
fi

if ! is_up; then
  echo "test-services: starting rabbitmq-server on 127.0.0.1:${AMQP_PORT}" >&2
  export ERL_EPMD_ADDRESS=127.0.0.1
  if [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1; then
    (cd / && exec setsid su rabbitmq -s /bin/sh -c 'ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=rabbit@localhost /usr/sbin/rabbitmq-server') >/tmp/rabbitmq-test.log 2>&1 </dev/null &
  else
    (cd / && exec setsid rabbitmq-server) >/tmp/rabbitmq-test.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do
    if is_up; then break; fi
    sleep 1
  done
fi
rabbitmqctl -n rabbit@localhost -q await_startup >/dev/null 2>&1 || { echo "test-services: rabbitmq did not start; log:" >&2; tail -50 /tmp/rabbitmq-test.log >&2; exit 1; }
amqp_open=0
for _ in $(seq 1 30); do
  if (exec 3<>/dev/tcp/127.0.0.1/"${AMQP_PORT}") 2>/dev/null; then amqp_open=1; break; fi
  sleep 1
done
if [ "$amqp_open" != 1 ]; then echo "test-services: rabbitmq port ${AMQP_PORT} not open" >&2; exit 1; fi
echo "test-services: rabbitmq ready on 127.0.0.1:${AMQP_PORT}" >&2

# Test topologies left behind by runs that failed half-way (a test that
# panics never reaches its cleanup). Their prefix is cptest-<unix secs>-…:
# queues older than half an hour are no test's any more; those of the
# older form (cptest-<uuid>) are deleted when no consumer holds them.
# Hundreds of leftover quorum queues once stopped the broker answering.
sweep_cutoff=$(( $(date +%s) - 1800 ))
stale=$(rabbitmqctl -n rabbit@localhost -q -s list_queues name consumers 2>/dev/null | awk -v cut="$sweep_cutoff" '
  $1 ~ /^cptest-/ {
    split($1, part, "-")
    if (part[2] ~ /^[0-9]+$/) { if (part[2] + 0 < cut) print $1 }
    else if ($2 == 0) print $1
  }')
if [ -n "$stale" ]; then
  n=0
  for q in $stale; do
    rabbitmqctl -n rabbit@localhost -q delete_queue "$q" >/dev/null 2>&1 && n=$((n + 1))
  done
  echo "test-services: removed $n leftover test queues" >&2
fi

# --- promtool (Debian's prometheus) -----------------------------------------
# tests/grafana.rs checks every PromQL expression of the Grafana dashboard
# with `promtool check rules`; it fails, not skips, without it.
if ! command -v promtool >/dev/null 2>&1; then
  echo "test-services: installing prometheus (for promtool) from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package's own Prometheus server (all interfaces, :9090) from starting.
  need_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  need_root apt-get update -qq
  need_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  need_root rm -f /usr/sbin/policy-rc.d
fi

# --- Alertmanager (Debian's prometheus-alertmanager) ------------------------
# Tests read CHARTPILOT_TEST_ALERTMANAGER_URL, default http://127.0.0.1:19093;
# set CHARTPILOT_TEST_ALERTMANAGER_PORT to move both.
AM_PORT="${CHARTPILOT_TEST_ALERTMANAGER_PORT:-19093}"
AM_URL="http://127.0.0.1:${AM_PORT}"
# State outside the repository so worktrees share one instance per port.
AM_DIR="${CHARTPILOT_TEST_STATE_DIR:-/tmp/chartpilot-test-services}/alertmanager-${AM_PORT}"
AM_BIN=/usr/bin/prometheus-alertmanager

if [ ! -x "$AM_BIN" ]; then
  echo "test-services: installing prometheus-alertmanager from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  # As for RabbitMQ: keep the package's own service (all interfaces, :9093) from starting.
  need_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  need_root apt-get update -qq
  need_root apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
  need_root rm -f /usr/sbin/policy-rc.d
fi

# A null receiver: tests only read the API. Short group_wait so that a later
# test adding a webhook receiver does not wait for the 30 s default.
am_conf='# Written by scripts/test-services.sh; edits are overwritten.
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 4h
receivers:
  - name: "null"'
mkdir -p "$AM_DIR/data"
am_changed=0
if [ "$(cat "$AM_DIR/alertmanager.yml" 2>/dev/null)" != "$am_conf" ]; then
  printf '%s\n' "$am_conf" >"$AM_DIR/alertmanager.yml"; am_changed=1
fi

am_ready() { curl -fsS --max-time 2 "${AM_URL}/-/ready" >/dev/null 2>&1; }

if am_ready; then
  # Already running (an earlier run): reload only if the config changed.
  if [ "$am_changed" = 1 ]; then
    echo "test-services: alertmanager config changed; reloading" >&2
    curl -fsS --max-time 5 -X POST "${AM_URL}/-/reload" >/dev/null
  fi
else
  echo "test-services: starting prometheus-alertmanager on ${AM_URL}" >&2
  # --cluster.listen-address= disables gossip, which would otherwise bind 0.0.0.0:9094.
  # `exec` and the redirections on the subshell leave no shell holding the
  # caller's stdout open, so `test-services.sh | tee` ends when the script does.
  (cd / && exec setsid "$AM_BIN" \
    --config.file="$AM_DIR/alertmanager.yml" \
    --storage.path="$AM_DIR/data" \
    --web.listen-address="127.0.0.1:${AM_PORT}" \
    --web.external-url="$AM_URL" \
    --cluster.listen-address=) </dev/null >"$AM_DIR/alertmanager.log" 2>&1 &
  am_started=$(date +%s)
  for _ in $(seq 1 60); do am_ready && break; sleep 0.5; done
  am_ready || { echo "test-services: alertmanager did not become ready; log:" >&2; tail -50 "$AM_DIR/alertmanager.log" >&2; exit 1; }
  echo "test-services: alertmanager took ~$(( $(date +%s) - am_started ))s to become ready" >&2
fi
echo "test-services: alertmanager ready on ${AM_URL} (state in ${AM_DIR})" >&2

# --- Published API descriptions the fakes validate against --------------------
bash "$(dirname "$0")/fetch-specs.sh"
