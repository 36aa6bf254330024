#!/usr/bin/env bash
# Hostile input sweep (issue 7, fault drills): starts a Redis and the app (Release, Production
# settings, local image store) on their own ports, runs drills/HostileSweep against it (every route of
# /openapi/v1.json, the WebSocket hub and /blobs) and prints a summary: requests sent, answers by
# status, violations. Exit code 0 when no rule was broken.
#   HOSTILE_PORT (3321)  HOSTILE_REDIS_PORT (6431)  extra arguments go to the sweep (e.g. --subset, --huge-mib 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

PORT="${HOSTILE_PORT:-3321}"
REDIS_PORT="${HOSTILE_REDIS_PORT:-6431}"
work=.data/drill-hostile
rm -rf "$work" && mkdir -p "$work"
secret="hostile-drill-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

ensure_redis_installed
command -v curl >/dev/null 2>&1 || apt_install curl
start_redis "$REDIS_PORT" "$work/redis"
app=""
cleanup() {
  stop_process "$app"
  stop_redis "$work/redis"
}
trap cleanup EXIT

echo "Building the app and the sweep (Release)..."
dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
dotnet build drills/HostileSweep/HostileSweep.csproj -c Release -v q -nologo >/dev/null

# Production settings; the general rate limits are raised so that the sweep's thousands of requests
# are judged by the routes themselves (sign-in's own brute-force limit stays: its 429s are checked too).
ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="$secret" PORT="$PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" \
  LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  RATE_LIMIT_PER_USER=1000000 RATE_LIMIT_PER_ADDRESS=1000000 \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$PORT/health" "$app" "$work/app.log" 200

status=0
dotnet drills/HostileSweep/bin/Release/net10.0/HostileSweep.dll --url "http://127.0.0.1:$PORT" \
  --redis "127.0.0.1:$REDIS_PORT" --jwt-secret "$secret" --out "$work/report.txt" --trace "$work/trace.tsv" "$@" || status=$?

# The app's own view: its error log and 5xx count must be empty after the sweep.
errors=$(grep -c '\[ERR\]' "$work/logs/error.log" 2>/dev/null || true)
health=$(curl -s "http://127.0.0.1:$PORT/health")
echo "app /health after the sweep: $health"
echo "app error-log lines: ${errors:-0} (full log: $work/logs/error.log)"
if [ "${errors:-0}" != "0" ]; then
  echo "--- first error-log lines ---"; head -40 "$work/logs/error.log"; status=1
fi
echo "report: $work/report.txt (every request and its answer: $work/trace.tsv)"
exit $status
