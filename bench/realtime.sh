#!/usr/bin/env bash
# Realtime fan-out benchmark: starts a Redis and the app (Release) on their own ports, runs
# bench/FanOutBench against them and writes the figures into docs/BENCHMARKS.md ("## Realtime").
# Options are passed to the bench: --users 250 --devices 4 --rate 500 --seconds 20 --mode http|log
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

PORT="${BENCH_PORT:-3195}"
REDIS_PORT="${BENCH_REDIS_PORT:-6396}"
work=.data/bench-realtime
rm -rf "$work" && mkdir -p "$work"

ensure_redis_installed
start_redis "$REDIS_PORT" "$work/redis"
app=""
cleanup() { stop_process "${counters:-}"; stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT

dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
dotnet build bench/FanOutBench/FanOutBench.csproj -c Release -v q -nologo >/dev/null

# The app runs with the variables the Dockerfile sets for the runtime (read from it, as bench/footprint.sh does).
runtime_env=()
while read -r kv; do runtime_env+=("$kv"); done < <(dockerfile_runtime_env)
echo "app runtime env (from the Dockerfile): ${runtime_env[*]}"

# The bench registers its users from one address: the per-address limits (general and password routes) are lifted,
# and their hashes are cheap (thousands of 600,000-iteration hashes would take the run's first half hour on 2 cores).
env "${runtime_env[@]}" ${BENCH_APP_ENV:-} PASSWORD_RATE_PER_ADDRESS=1000000000 RATE_LIMIT_PER_ADDRESS=1000000000 PASSWORD_HASH_ITERATIONS=1000 ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" \
  PORT="$PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" API_DOCS=false \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$PORT/health" "$app" "$work/app.log" 200
# REALTIME_COUNTERS=1: the app's runtime counters (GC pauses, thread-pool queue) each second into $work/counters.csv.
counters=""
if [ -n "${REALTIME_COUNTERS:-}" ]; then
  ~/.dotnet/tools/dotnet-counters collect -p "$app" --refresh-interval 1 --format csv -o "$work/counters.csv" --counters System.Runtime >/dev/null 2>&1 &
  counters=$!
fi

# The bench client must not be what is late (docs/BENCHMARKS.md, "Realtime"): a frame's time is taken as its read
# completes on the socket engine's thread (inline completions: no wait in the bench's thread-pool queue), and a
# 256 MiB young generation keeps the bench's collections (each pausing every read) to a few in a run.
env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 DOTNET_GCgen0size=0x10000000 \
  dotnet bench/FanOutBench/bin/Release/net10.0/FanOutBench.dll --url "http://127.0.0.1:$PORT" \
  --redis "127.0.0.1:$REDIS_PORT" --pid "$app" --redis-pid "$(cat "$work/redis/redis.pid")" --out docs/BENCHMARKS.md "$@"
