#!/usr/bin/env bash
# Thumbnails, ours against sharp (bench/sharp): end to end by default, upload over HTTP -> image ready, with the app
# (Release, local store) and its own Redis started here; writes docs/BENCHMARKS.md "## Images".
# --function: the thumbnail function alone and the upload memory instead ("## Thumbnail function").
# Ports: BENCH_PORT (app, default 3197), BENCH_REDIS_PORT (default 6395). BENCH_APP_ENV="VAR=value ...": app settings.
# BENCH_SKIP_BUILD=1: use what an earlier (niced) build left; the measuring run then holds the bench lock only to measure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BENCH_REDIS_PORT="${BENCH_REDIS_PORT:-6395}"
PORT="${BENCH_PORT:-3197}"
export BENCH_REDIS_PORT
work=bench/results
mkdir -p "$work"
(cd bench/sharp && { [ -d node_modules/sharp ] || npm ci --no-audit --no-fund --loglevel=error; })
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  # The app as the Dockerfile publishes it (linux-x64, ReadyToRun).
  dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -r linux-x64 --self-contained false -o "$work/e2e-app" --nologo -v q >/dev/null
  dotnet build bench/ThumbnailBench/ThumbnailBench.csproj -c Release -v q -nologo >/dev/null
fi
bench=bench/ThumbnailBench/bin/Release/net10.0/ThumbnailBench.dll

ensure_redis_installed
rm -rf "$work/redis"
start_redis "$BENCH_REDIS_PORT" "$work/redis"
app=""
cleanup() { stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT

if [ "${1:-}" = --function ]; then
  dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -o "$work/app" --nologo -v q
  dotnet "$bench"
  exit
fi

rm -rf "$work/e2e" && mkdir -p "$work/e2e"
# The Dockerfile's runtime settings (allocator, young generation), then the bench's own.
runtime=()
while read -r kv; do runtime+=("$kv"); done < <(dockerfile_runtime_env)
env "${runtime[@]}" ${BENCH_APP_ENV:-} ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" \
  PASSWORD_HASH_ITERATIONS=1000 PORT="$PORT" REDIS_URL="127.0.0.1:$BENCH_REDIS_PORT" LOG_DIR="$work/e2e/logs" API_DOCS=false \
  LOCAL_STORAGE_PATH="$work/e2e/uploads" UPLOAD_TEMP_PATH="$work/e2e/spool" \
  ${BENCH_APP_WRAP:-} dotnet "$work/e2e-app/NanoBanana.dll" >"$work/e2e/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$PORT/health" "$app" "$work/e2e/app.log" 200
dotnet "$bench" --url "http://127.0.0.1:$PORT" --pid "$app"
