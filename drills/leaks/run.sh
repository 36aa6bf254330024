#!/usr/bin/env bash
# Leak drill (issue 7, fault drills): starts a Redis and the app (Release, Production settings, a
# 2 s WebSocket heartbeat, a 5 s upload idle timeout) on their own ports, then drills/LeakDrill drops uploads half-way and
# abandons WebSockets without a close frame (FIN, RST, or vanished: silent with the TCP connection
# left open), many times, and checks that the app's sockets, memory (RSS and GC heap after a full
# collection, read with dotnet-gcdump), file descriptors, temp files, Redis keys/channels/clients
# and error log are back at their baseline once the heartbeat has dropped the vanished ones.
#   LEAKS_PORT (3323)  LEAKS_REDIS_PORT (6433)  extra arguments go to the drill:
#   --uploads 150 --sockets 300 --rounds 3 --file-kib 4096 --recover-seconds 60 --idle-seconds 30
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

PORT="${LEAKS_PORT:-3323}"
REDIS_PORT="${LEAKS_REDIS_PORT:-6433}"
work=.data/drill-leaks
rm -rf "$work" && mkdir -p "$work"
tools=.data/tools

ensure_redis_installed
command -v curl >/dev/null 2>&1 || apt_install curl
if [ ! -x "$tools/dotnet-gcdump" ]; then
  echo "Installing dotnet-gcdump into $tools..."
  dotnet tool install dotnet-gcdump --version 10.0.750501 --tool-path "$tools" >/dev/null
fi
start_redis "$REDIS_PORT" "$work/redis"
app=""
cleanup() {
  stop_process "$app"
  stop_redis "$work/redis"
}
trap cleanup EXIT

echo "Building the app and the drill (Release)..."
dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
dotnet build drills/LeakDrill/LeakDrill.csproj -c Release -v q -nologo >/dev/null

# The app spools uploads into $work/spool, where the drill counts them. The heartbeat (2 s ping, 2 s to
# answer) and the upload idle timeout (5 s) are short so that vanished clients are dropped within seconds.
UPLOAD_TEMP_PATH="$work/spool" UPLOAD_IDLE_TIMEOUT_SECONDS=5 ASPNETCORE_ENVIRONMENT=Production \
  JWT_SECRET="leak-drill-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  PORT="$PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" \
  REALTIME_KEEPALIVE_SECONDS=2 REALTIME_KEEPALIVE_TIMEOUT_SECONDS=2 \
  RATE_LIMIT_PER_USER=1000000 RATE_LIMIT_PER_ADDRESS=1000000 \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$PORT/health" "$app" "$work/app.log" 200

dotnet drills/LeakDrill/bin/Release/net10.0/LeakDrill.dll --url "http://127.0.0.1:$PORT" --pid "$app" \
  --redis "127.0.0.1:$REDIS_PORT" --temp "$work/spool" --logs "$work/logs" \
  --gcdump "$tools/dotnet-gcdump" --keep-dumps "$work" --out "$work/report.md" "$@"
