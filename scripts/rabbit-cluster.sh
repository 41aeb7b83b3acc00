#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback, from Debian's rabbitmq-server,
# for the cluster test and bench (issue 17). Beside the single test broker
# of scripts/test-services.sh (5672), never instead of it.
#
#   bash scripts/rabbit-cluster.sh up            start cp1..cp3, join them, print the AMQP URLs
#   bash scripts/rabbit-cluster.sh status        cluster members and which are running
#   bash scripts/rabbit-cluster.sh stop-app N    rabbitmqctl stop_app on node N (1..3)
#   bash scripts/rabbit-cluster.sh start-app N   rabbitmqctl start_app on node N
#   bash scripts/rabbit-cluster.sh kill N        kill -9 node N's Erlang VM
#   bash scripts/rabbit-cluster.sh start N       start node N again after a kill
#   bash scripts/rabbit-cluster.sh urls          the three AMQP URLs, comma-separated
#   bash scripts/rabbit-cluster.sh down          stop every node and remove their data
#
# Node N: name rabbit-cpN@localhost, AMQP 127.0.0.1:(5680+N), distribution
# 127.0.0.1:(25680+N), data and logs under $CLUSTER_DIR/cpN (default
# /var/lib/rabbitmq/chartpilot-cluster). Quorum queues declared on it get
# a member on every node (the default initial group size is the cluster's).
# The consistent-hash exchange plugin is enabled on each node.
set -euo pipefail

CLUSTER_DIR=${CLUSTER_DIR:-/var/lib/rabbitmq/chartpilot-cluster}
NODES=(1 2 3)

log() { printf 'rabbit-cluster: %s\n' "$*" >&2; }
die() { printf 'rabbit-cluster: FAIL: %s\n' "$*" >&2; exit 1; }

command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] \
  || die "rabbitmq-server is not installed (bash scripts/test-services.sh installs it)"
[ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1 \
  || die "run as root on a machine with Debian's rabbitmq user (the nodes run as rabbitmq)"

name() { echo "rabbit-cp$1@localhost"; }
port() { echo $((5680 + $1)); }
ctl() { local n=$1; shift; rabbitmqctl -n "$(name "$n")" -q "$@"; }
is_up() { ctl "$1" status >/dev/null 2>&1; }
app_running() { ctl "$1" eval 'rabbit:is_running().' 2>/dev/null | grep -qx true; }

prepare() {
  local n=$1 dir="$CLUSTER_DIR/cp$1"
  mkdir -p "$dir/mnesia" "$dir/log"
  cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$(port "$n")
loopback_users.guest = true
disk_free_limit.absolute = 50MB
# Nodes of this cluster give a killed peer 10 s before they call it down.
net_ticktime = 10
EOF
  printf '[rabbitmq_consistent_hash_exchange].\n' >"$dir/enabled_plugins"
  : >"$dir/rabbitmq-env.conf"
  chown -R rabbitmq:rabbitmq "$CLUSTER_DIR"
}

start_node() {
  local n=$1 dir="$CLUSTER_DIR/cp$1"
  is_up "$n" && return 0
  prepare "$n"
  log "starting $(name "$n") on 127.0.0.1:$(port "$n")"
  # Every descriptor redirected: nothing of the caller's (a pipe to
  # `tail`) stays open in the node's process tree.
  (cd / && exec setsid su rabbitmq -s /bin/sh -c "
    export ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf'
    export RABBITMQ_NODENAME='$(name "$n")'
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$(port "$n")
    export RABBITMQ_DIST_PORT=$((25680 + n))
    export RABBITMQ_CONFIG_FILE='$dir/rabbitmq.conf'
    export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
    export RABBITMQ_MNESIA_BASE='$dir/mnesia'
    export RABBITMQ_LOG_BASE='$dir/log'
    export RABBITMQ_PID_FILE='$dir/pid'
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
    exec /usr/sbin/rabbitmq-server") >"$dir/server.out" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    if is_up "$n" && app_running "$n"; then return 0; fi
    sleep 1
  done
  tail -30 "$dir/server.out" >&2 || true
  die "$(name "$n") did not start"
}

join() {
  local n=$1
  if ctl 1 cluster_status --formatter json 2>/dev/null | grep -q "$(name "$n")"; then return 0; fi
  log "joining $(name "$n") to $(name 1)"
  ctl "$n" stop_app
  ctl "$n" reset
  ctl "$n" join_cluster "$(name 1)"
  ctl "$n" start_app
}

urls() {
  local sep="" out=""
  for n in "${NODES[@]}"; do out="$out${sep}amqp://guest:guest@127.0.0.1:$(port "$n")/%2f"; sep=","; done
  echo "$out"
}

node_arg() {
  case "${1:-}" in 1|2|3) echo "$1" ;; *) die "node must be 1, 2 or 3, got '${1:-}'" ;; esac
}

case "${1:-}" in
  up)
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in 2 3; do join "$n"; done
    running=$(ctl 1 cluster_status --formatter json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')
    [ "$running" = 3 ] || die "cluster has $running running nodes, not 3"
    log "cluster of 3 running"
    urls
    ;;
  status)
    ctl 1 cluster_status 2>/dev/null || ctl 2 cluster_status 2>/dev/null || ctl 3 cluster_status
    ;;
  stop-app) n=$(node_arg "${2:-}"); ctl "$n" stop_app; log "$(name "$n"): app stopped" ;;
  start-app) n=$(node_arg "${2:-}"); ctl "$n" start_app; log "$(name "$n"): app started" ;;
  kill)
    n=$(node_arg "${2:-}")
    pid=$(cat "$CLUSTER_DIR/cp$n/pid" 2>/dev/null || true)
    [ -n "$pid" ] || pid=$(ctl "$n" eval 'list_to_integer(os:getpid()).' 2>/dev/null || true)
    [ -n "$pid" ] || die "cannot find the pid of $(name "$n")"
    kill -9 "$pid"
    log "$(name "$n"): killed (pid $pid)"
    ;;
  start) n=$(node_arg "${2:-}"); start_node "$n"; log "$(name "$n"): running" ;;
  urls) urls ;;
  down)
    for n in "${NODES[@]}"; do
      if is_up "$n"; then ctl "$n" stop >/dev/null 2>&1 || true; fi
      pid=$(cat "$CLUSTER_DIR/cp$n/pid" 2>/dev/null || true)
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" || true; fi
    done
    rm -rf "$CLUSTER_DIR"
    log "cluster stopped and its data removed"
    ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
