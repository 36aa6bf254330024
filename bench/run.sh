#!/usr/bin/env bash
# Sessions, messages and search over HTTP: starts its own Redis (AOF everysec, noeviction) and the published app
# (Release, Production) on their own ports, then bench/SearchBench posts one user's sessions of 10 and of N messages
# (default 100,000) through the API and times pages, searches and the large session's deletion. Writes
# "## Sessions, messages and search" into docs/BENCHMARKS.md. Usage: bash bench/run.sh [messages] [--in-flight 64]
# Ports: BENCH_APP_PORT (3419), BENCH_REDIS_PORT (6419); both must be free. BENCH_SKIP_BUILD=1 runs what an earlier
# run published and built (build at low priority first, then measure on a quiet machine).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

messages=100000
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then messages=$1; shift; fi
APP_PORT="${BENCH_APP_PORT:-3419}"
REDIS_PORT="${BENCH_REDIS_PORT:-6419}"
if redis_answers 127.0.0.1 "$REDIS_PORT"; then
  echo "Something already answers on port $REDIS_PORT: set BENCH_REDIS_PORT to a free port." >&2; exit 1
fi
if { exec 7<>"/dev/tcp/127.0.0.1/$APP_PORT"; } 2>/dev/null; then
  exec 7>&- 7<&-
  echo "Port $APP_PORT is already taken: set BENCH_APP_PORT to a free port." >&2; exit 1
fi
work=.data/bench
rm -rf "$work" && mkdir -p "$work"

ensure_redis_installed
app=""
cleanup() { stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  # As the Dockerfile publishes: for linux-x64, so ReadyToRun. Into .data/bench-app, kept between runs.
  dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -r linux-x64 --self-contained false -o .data/bench-app --nologo -v q \
    >"$work/publish.log" 2>&1 || { tail -30 "$work/publish.log"; exit 1; }
  dotnet build bench/SearchBench/SearchBench.csproj -c Release -v q -nologo >/dev/null
fi

start_redis "$REDIS_PORT" "$work/redis"
# Rate limits lifted so that the figures are the work, not 429s; a cheap password hash for the one registration.
env ASPNETCORE_ENVIRONMENT=Production API_DOCS=false JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" \
  PORT="$APP_PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" \
  RATE_LIMIT_PER_USER=1000000000 RATE_LIMIT_PER_ADDRESS=1000000000 PASSWORD_HASH_ITERATIONS=1000 \
  dotnet .data/bench-app/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$APP_PORT/health" "$app" "$work/app.log" 200

command="bash bench/run.sh $messages${*:+ $*}"
dotnet bench/SearchBench/bin/Release/net10.0/SearchBench.dll --url "http://127.0.0.1:$APP_PORT" --redis "127.0.0.1:$REDIS_PORT" \
  --app-pid "$app" --redis-pid "$(cat "$work/redis/redis.pid")" --messages "$messages" --command "$command" \
  --out docs/BENCHMARKS.md "$@"
