#!/usr/bin/env bash
# The mixed soak of issue 7: starts Redis, s3rver (the S3 store) and the app in Release (Production),
# runs bench/Soak against it for --minutes N (default 10) and writes docs/BENCHMARKS.md ("## Soak").
# Exits non-zero when a check fails (a 5xx, an error-log line, a missed frame, memory growth...).
#   bash bench/soak.sh                       # 10 minutes
#   bash bench/soak.sh --minutes 3 --scale 2 # other options go to bench/Soak (--users, --devices, --chats, --scale)
# Ports: SOAK_PORT (3361), SOAK_REDIS_PORT (6471), SOAK_S3_PORT (4671). SOAK_STORAGE=local uses the local store.
# SOAK_APP_ENV="NAME=value ..." adds settings to the app's environment (e.g. READ_CACHE_MB=0).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

PORT="${SOAK_PORT:-3361}"
REDIS_PORT="${SOAK_REDIS_PORT:-6471}"
S3_PORT="${SOAK_S3_PORT:-4671}"
STORAGE="${SOAK_STORAGE:-s3}"
work=.data/soak
tools=.data/tools
app=""

command_line="bash bench/soak.sh${*:+ $*}"
minutes=10
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--minutes" ] && [ $((i + 1)) -lt ${#args[@]} ]; then minutes="${args[$((i + 1))]}"; fi
done

cleanup() {
  stop_process "$app"
  stop_s3rver "$work/s3"
  stop_redis "$work/redis"
}
trap cleanup EXIT

rm -rf "$work" && mkdir -p "$work"
ensure_redis_installed
start_redis "$REDIS_PORT" "$work/redis"

storage_env=(STORAGE_TYPE=local LOCAL_STORAGE_PATH="$work/uploads" PUBLIC_BASE_URL="http://127.0.0.1:$PORT")
storage_label="local storage"
if [ "$STORAGE" = "s3" ]; then
  ensure_s3rver_installed
  start_s3rver "$S3_PORT" "$work/s3" nanobanana-soak
  storage_env=(STORAGE_TYPE=aws AWS_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_FORCE_PATH_STYLE=true AWS_REGION=us-east-1
    AWS_S3_BUCKET=nanobanana-soak AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER)
  storage_label="S3 store: s3rver on loopback"
fi

# The GC heap is read with dotnet-counters and dotnet-gcdump (.NET global tools from NuGet), installed here once.
install_tool() {
  local name=$1
  [ -x "$tools/$name/$name" ] && return 0
  echo "Installing $name into $tools ..." >&2
  dotnet tool install "$name" --tool-path "$tools/$name" --version 10.0.750501 >/dev/null 2>&1 \
    || echo "$name could not be installed: the soak goes on without it (RSS is still measured)." >&2
}
install_tool dotnet-counters
install_tool dotnet-gcdump

dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
dotnet build bench/Soak/Soak.csproj -c Release -v q -nologo >/dev/null

# The app's own temp folder (upload spooling), so that files left behind can be counted. The runtime's
# diagnostics socket lives there too, so the soak (and the dotnet-counters/gcdump it starts) share it.
temp="$PWD/$work/tmp"
mkdir -p "$temp"
env "${storage_env[@]}" ${SOAK_APP_ENV:-} TMPDIR="$temp" ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="soak-secret-soak-secret-soak-secret-0123456789" \
  PORT="$PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" API_DOCS=false \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$PORT/health" "$app" "$work/app.log" 200

echo "Soak: ${minutes} minutes against the app on port $PORT (pid $app, $storage_label); app output in $work/app.log"
status=0
TMPDIR="$temp" dotnet bench/Soak/bin/Release/net10.0/Soak.dll --url "http://127.0.0.1:$PORT" --pid "$app" --minutes "$minutes" \
  --logs "$work/logs" --counters-tool "$tools/dotnet-counters/dotnet-counters" \
  --gcdump-tool "$tools/dotnet-gcdump/dotnet-gcdump" --app-temp "$temp" --work "$work" --storage "$storage_label" \
  --command "$command_line" --out docs/BENCHMARKS.md "$@" || status=$?

# Stopping the app must not log an error either (error.log only exists once something was logged to it).
error_lines() { cat "$work"/logs/error*.log 2>/dev/null | wc -l || true; }
before=$(error_lines)
stop_process "$app"
after=$(error_lines)
if [ "$after" -gt "$before" ]; then
  echo "The app logged errors while stopping:" >&2
  cat "$work"/logs/error*.log | tail -n $((after - before)) >&2
  status=1
fi
exit "$status"
