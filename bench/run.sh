#!/usr/bin/env bash
# Runs the sessions/messages/search benchmark against its own Redis (port BENCH_REDIS_PORT, default 6419, must be free),
# configured as the service runs it (AOF everysec, noeviction). Usage: bash bench/run.sh [messages]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
port="${BENCH_REDIS_PORT:-6419}"
if redis_answers 127.0.0.1 "$port"; then
  echo "Something already answers on port $port: set BENCH_REDIS_PORT to a free port." >&2; exit 1
fi
work=.data/bench
rm -rf "$work" && mkdir -p "$work"
ensure_redis_installed
start_redis "$port" "$work/redis"
trap 'stop_redis "$work/redis"' EXIT
dotnet run -c Release --project bench/SearchBench -- "127.0.0.1:$port" "${1:-100000}"
