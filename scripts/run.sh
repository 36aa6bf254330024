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
app_pid=""
cleanup() {
  stop_process "$app_pid"
  [ -n "$started_redis" ] && stop_redis "$started_redis"
  return 0
}
trap cleanup EXIT
# A signal ends the script through its EXIT trap, which stops the app first, then the Redis it started.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
dotnet build src/NanoBanana/NanoBanana.csproj -c Release -nologo -v quiet
# The app is this script's own child (not under `dotnet run`), so the traps above can stop it.
dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll &
app_pid=$!
wait "$app_pid"
