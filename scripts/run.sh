#!/usr/bin/env bash
# Runs the service with its embedded defaults on http://localhost:${PORT:-3001}.
# When REDIS_HOST is not set and nothing answers on 127.0.0.1:6379, it installs (if needed)
# and starts a local Redis with its data under .data/redis, and stops it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

started_redis=""
if [ -z "${REDIS_HOST:-}" ] && [ -z "${REDIS_URL:-}" ] && ! redis_answers 127.0.0.1 6379; then
  ensure_redis_installed
  start_redis 6379 .data/redis
  started_redis=.data/redis
  echo "Started a local Redis on 127.0.0.1:6379 (data in .data/redis)."
fi
cleanup() { [ -n "$started_redis" ] && stop_redis "$started_redis"; }
trap cleanup EXIT

export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
dotnet run --project src/NanoBanana/NanoBanana.csproj -c Release
