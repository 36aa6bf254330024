#!/usr/bin/env bash
# Session generations benchmark: starts a Redis and the app (Release) on their own ports, with the gemini provider
# pointed at bench/GenerationBench's fake API, runs 200 generations from 8 people, 16 at a time, and writes the
# figures into docs/BENCHMARKS.md ("## Generation"). Options go to the bench: --generations --people --at-once --provider-delay-ms
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

PORT="${BENCH_PORT:-3197}"
PROVIDER_PORT="${BENCH_PROVIDER_PORT:-3198}"
REDIS_PORT="${BENCH_REDIS_PORT:-6397}"
work=.data/bench-generation
rm -rf "$work" && mkdir -p "$work"

ensure_redis_installed
start_redis "$REDIS_PORT" "$work/redis"
app=""
cleanup() { stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT

dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
dotnet build bench/GenerationBench/GenerationBench.csproj -c Release -v q -nologo >/dev/null

# 8 people, 2 generations under way each (the default per-user limit): 16 at a time. No daily limit for the run.
env PASSWORD_RATE_PER_ADDRESS=1000000000 ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" \
  PORT="$PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" API_DOCS=false \
  GEMINI_API_KEY=bench-key GEMINI_BASE_URL="http://127.0.0.1:$PROVIDER_PORT/v1beta" \
  GENERATION_MAX_CONCURRENT_PER_USER=2 GENERATION_DAILY_LIMIT=0 \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$PORT/health" "$app" "$work/app.log" 200

dotnet bench/GenerationBench/bin/Release/net10.0/GenerationBench.dll --url "http://127.0.0.1:$PORT" \
  --provider-port "$PROVIDER_PORT" --pid "$app" --out docs/BENCHMARKS.md "$@"
