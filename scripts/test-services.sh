#!/usr/bin/env bash
# Installs (if missing) and starts the services the test suite needs, on 127.0.0.1 only.
# Idempotent: fine to run when RabbitMQ is already installed and running.
set -euo pipefail

AMQP_PORT="${CHARTPILOT_TEST_AMQP_PORT:-5672}"

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo "$@"; else
      echo "test-services: need root to run: $*" >&2; exit 1; fi
  else "$@"; fi
}

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
    (cd / && setsid su rabbitmq -s /bin/sh -c 'ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=rabbit@localhost /usr/sbin/rabbitmq-server' >/tmp/rabbitmq-test.log 2>&1 &)
  else
    (cd / && setsid rabbitmq-server >/tmp/rabbitmq-test.log 2>&1 &)
  fi
  for _ in $(seq 1 120); do
    if is_up; then break; fi
    sleep 1
  done
fi
rabbitmqctl -n rabbit@localhost -q await_startup >/dev/null 2>&1 || { echo "test-services: rabbitmq did not start; log:" >&2; tail -50 /tmp/rabbitmq-test.log >&2; exit 1; }
for _ in $(seq 1 30); do
  (exec 3<>/dev/tcp/127.0.0.1/"${AMQP_PORT}") 2>/dev/null && { echo "test-services: rabbitmq ready on 127.0.0.1:${AMQP_PORT}" >&2; exit 0; }
  sleep 1
done
echo "test-services: rabbitmq port ${AMQP_PORT} not open" >&2
exit 1
