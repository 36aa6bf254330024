#!/usr/bin/env bash
# HTTP load benchmark (issue 7, "Load and benchmarks"): starts a Redis, the app (Release, Production) and
# bench/Baseline (Kestrel + one Redis GET) on their own ports, seeds data over the API, runs wrk against
# the hot routes and the baseline (bench/LoadBench) and writes the figures into docs/BENCHMARKS.md ("## Load").
# Options are passed to the driver: --seconds 15 --warmup 3 --rounds 1 --threads 1 --connections 32
#   --login-connections 2 --users 10 --sessions 30 --messages 1000
#   --only baseline,session,read,list,post,login (a quick look at some routes; docs/BENCHMARKS.md is left alone)
# Ports: BENCH_APP_PORT (3341), BENCH_BASELINE_PORT (3342), BENCH_REDIS_PORT (6451).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

APP_PORT="${BENCH_APP_PORT:-3341}"
BASELINE_PORT="${BENCH_BASELINE_PORT:-3342}"
REDIS_PORT="${BENCH_REDIS_PORT:-6451}"
work=.data/bench-load
rm -rf "$work" && mkdir -p "$work"

ensure_redis_installed
command -v wrk >/dev/null 2>&1 || apt_install wrk
for port in "$APP_PORT" "$BASELINE_PORT"; do
  if { exec 7<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    exec 7>&- 7<&-
    echo "Port $port is already taken; set BENCH_APP_PORT / BENCH_BASELINE_PORT." >&2; exit 1
  fi
done

app=""; baseline=""
cleanup() {
  stop_process "$app"
  stop_process "$baseline"
  stop_redis "$work/redis"
}
trap cleanup EXIT
start_redis "$REDIS_PORT" "$work/redis"

dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
dotnet build bench/Baseline/Baseline.csproj -c Release -v q -nologo >/dev/null
dotnet build bench/LoadBench/LoadBench.csproj -c Release -v q -nologo >/dev/null

# The general rate limit (per user, per address; counted in Redis) is raised far above what wrk can send, so
# the figures are throughput, not 429s (the password routes' per-address limit too: the bench signs in from one address).
# The limiter still runs on every request (its Redis script included).
env ${BENCH_APP_ENV:-} ASPNETCORE_ENVIRONMENT=Production API_DOCS=false \
  JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" \
  PORT="$APP_PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" \
  RATE_LIMIT_PER_USER=1000000000 RATE_LIMIT_PER_ADDRESS=1000000000 PASSWORD_RATE_PER_ADDRESS=1000000000 \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
ASPNETCORE_ENVIRONMENT=Production PORT="$BASELINE_PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" \
  dotnet bench/Baseline/bin/Release/net10.0/Baseline.dll >"$work/baseline.log" 2>&1 &
baseline=$!

wait_for_http "http://127.0.0.1:$APP_PORT/health" "$app" "$work/app.log" 200
wait_for_http "http://127.0.0.1:$BASELINE_PORT/" "$baseline" "$work/baseline.log"

dotnet bench/LoadBench/bin/Release/net10.0/LoadBench.dll \
  --url "http://127.0.0.1:$APP_PORT" --baseline "http://127.0.0.1:$BASELINE_PORT" --redis "127.0.0.1:$REDIS_PORT" \
  --app-pid "$app" --baseline-pid "$baseline" --redis-pid "$(cat "$work/redis/redis.pid")" \
  --work "$work" --out docs/BENCHMARKS.md "$@"
