#!/usr/bin/env bash
# Starts (or stops) a local Redis Cluster of 3 masters on loopback ports, for scale-out tests.
#   bash deploy/redis-cluster.sh start [BASE_PORT]   -> prints the REDIS_URL to use
#   bash deploy/redis-cluster.sh stop  [BASE_PORT]
# Each node runs with AOF everysec and noeviction, data under ${CLUSTER_DIR:-.data/cluster}/<port>.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

action=${1:-start}
base=${2:-7101}
ports=("$base" "$((base + 1))" "$((base + 2))")
root="${CLUSTER_DIR:-.data/cluster}"

case "$action" in
  start)
    ensure_redis_installed
    for p in "${ports[@]}"; do
      rm -rf "$root/$p" && mkdir -p "$root/$p"
      start_redis "$p" "$root/$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000
    done
    redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$root/create.log"
    for _ in $(seq 1 100); do
      state=$(redis-cli -p "$base" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')
      [ "$state" = ok ] && break
      sleep 0.1
    done
    [ "$state" = ok ] || { echo "cluster did not reach state ok" >&2; exit 1; }
    echo "127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
    ;;
  stop)
    for p in "${ports[@]}"; do stop_redis "$root/$p"; done
    ;;
  *) echo "usage: $0 start|stop [BASE_PORT]" >&2; exit 2 ;;
esac
