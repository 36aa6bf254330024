#!/usr/bin/env bash
# Thumbnail benchmark, ours against sharp, plus upload memory; writes docs/BENCHMARKS.md "## Images".
# Starts its own Redis on BENCH_REDIS_PORT (default 6395) for the upload measurements.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BENCH_REDIS_PORT="${BENCH_REDIS_PORT:-6395}"
export BENCH_REDIS_PORT
mkdir -p bench/results
(cd bench/sharp && { [ -d node_modules/sharp ] || npm ci --no-audit --no-fund --loglevel=error; })
ensure_redis_installed
rm -rf bench/results/redis
start_redis "$BENCH_REDIS_PORT" bench/results/redis
trap 'stop_redis bench/results/redis' EXIT
dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -o bench/results/app --nologo -v q
dotnet run --project bench/ThumbnailBench/ThumbnailBench.csproj -c Release
