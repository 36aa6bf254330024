#!/usr/bin/env bash
# Fault drills (issue 7): each breaks one piece of a running system and ends with a verdict line saying
# what, of everything acknowledged, was lost ("nothing lost" or exactly what).
#
#   bash drills/run.sh redis     Redis kill -9 and start again while 8 clients write
#   bash drills/run.sh s3        the S3 store (s3rver) killed while thumbnails are made, then back
#   bash drills/run.sh appkill   the app kill -9 during thumbnail work and during batch uploads, restarted
#   bash drills/run.sh orphan    two instances; the one making 30 pictures' thumbnails killed -9, never restarted
#   bash drills/run.sh abuse     one address floods the password routes and the hub while another user works
#   bash drills/run.sh all       the four fault drills, one after the other (not abuse)
#
# Each drill starts what it needs on its own loopback ports (Redis with AOF everysec, s3rver, the app
# in Release) under .data/drills/<drill>, and stops all of it on exit. Not part of the test command:
# the drills kill processes. Docs and figures: docs/drills.md.
# Ports: app DRILL_APP_PORT_BASE+n (3300), Redis DRILL_REDIS_PORT_BASE+n (6410), s3rver
# DRILL_S3_PORT_BASE+n (4610), with n = 1 (redis), 2 (s3), 3 (appkill), 4 (orphan; its second instance on app port + 10), 5 (abuse).
# Work lease: DRILL_WORK_LEASE seconds (30, the default of WORK_LEASE_SECONDS).
# Lengths: DRILL_BEFORE / DRILL_DOWN / DRILL_AFTER seconds (redis: 10 / 10 / 8; s3: DRILL_DOWN 25;
# abuse: quiet 10 / flood 20 / sockets 10).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

drill="${1:-}"
case "$drill" in
  redis) n=1 ;; s3) n=2 ;; appkill) n=3 ;; orphan) n=4 ;; abuse) n=5 ;;
  all)
    status=0; verdicts=()
    for d in redis s3 appkill orphan; do
      bash drills/run.sh "$d" || status=1
      verdicts+=("$(grep '^VERDICT' ".data/drills/$d/drill.log" | tail -1 || echo "VERDICT $d: did not finish")")
    done
    echo; printf '%s\n' "${verdicts[@]}"
    exit $status ;;
  _ctl) drill="$2"; action="$3"
    case "$drill" in redis) n=1 ;; s3) n=2 ;; appkill) n=3 ;; orphan) n=4 ;; abuse) n=5 ;; esac ;;
  *) echo "usage: bash drills/run.sh redis|s3|appkill|orphan|abuse|all" >&2; exit 64 ;;
esac

APP_PORT=$(( ${DRILL_APP_PORT_BASE:-3300} + n ))
REDIS_PORT=$(( ${DRILL_REDIS_PORT_BASE:-6410} + n ))
S3_PORT=$(( ${DRILL_S3_PORT_BASE:-4610} + n ))
BUCKET=drills
# The collector's grace period, short so the drill can wait for it (24 h in production); the s3 drill
# keeps it longer than its outage, so the blobs a cut batch left are still there to be seen once the store is back.
GC_GRACE=20; [ "$drill" = s3 ] && GC_GRACE=60
work=.data/drills/$drill

WORK_LEASE="${DRILL_WORK_LEASE:-30}"

start_app() { # start_app [2]: the second instance (orphan drill) on app port + 10, with its own pid file and logs
  local i="${1:-}" port="$APP_PORT"; [ -n "$i" ] && port=$((APP_PORT + 10))
  local storage=(LOCAL_STORAGE_PATH="$work/uploads")
  # The fault drills test failures, not limits: they raise the API limits. The abuse drill keeps the defaults.
  local limits=(RATE_LIMIT_PER_USER=1000000 RATE_LIMIT_PER_ADDRESS=1000000)
  [ "$drill" = abuse ] && limits=()
  if [ "$drill" != redis ] && [ "$drill" != abuse ]; then
    storage=(STORAGE_TYPE=aws AWS_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_S3_BUCKET="$BUCKET" AWS_FORCE_PATH_STYLE=true
             AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER THUMBNAIL_PARALLELISM=1)
  fi
  env ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="drill-secret-drill-secret-drill-secret-0123456789" \
    PORT="$port" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs$i" API_DOCS=false \
    "${limits[@]}" WORK_LEASE_SECONDS="$WORK_LEASE" ${DRILL_APP_ENV:-} \
    IMAGE_GC_GRACE_SECONDS="$GC_GRACE" IMAGE_GC_INTERVAL_SECONDS=5 "${storage[@]}" \
    dotnet "$APP_DIR/NanoBanana.dll" >>"$work/app$i.log" 2>&1 &
  echo $! >"$work/app$i.pid"
  disown $! 2>/dev/null || true
  wait_for_http "http://127.0.0.1:$port/health" "$(cat "$work/app$i.pid")" "$work/app$i.log" 200
}

kill9() { # kill9 PIDFILE: kill -9 the process and wait until it is gone
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  echo "signal-at $(date +%s%3N)" # the drill measures acknowledgements against this moment
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
  rm -f "$1"
}

APP_DIR=.data/drills/app # published below; app-start reuses it
if [ "${1}" = _ctl ]; then
  case "$action" in
    redis-kill) kill9 "$work/redis/redis.pid" ;;
    redis-start) start_redis "$REDIS_PORT" "$work/redis" ;;
    s3-kill) kill9 "$work/s3/s3rver.pid" ;;
    s3-start) start_s3rver "$S3_PORT" "$work/s3" "$BUCKET"; disown -a ;;
    app-kill) kill9 "$work/app.pid" ;;
    app-start) start_app ;;
    *) echo "unknown action $action" >&2; exit 64 ;;
  esac
  exit 0
fi

rm -rf "$work" && mkdir -p "$work"
cleanup() {
  kill9 "$work/app.pid" >/dev/null
  kill9 "$work/app2.pid" >/dev/null
  stop_s3rver "$work/s3"
  stop_redis "$work/redis"
}
trap cleanup EXIT

ensure_redis_installed
command -v curl >/dev/null 2>&1 || apt_install curl
[ "$drill" = redis ] || [ "$drill" = abuse ] || ensure_s3rver_installed
echo "Building the app and the drill client (Release)..."
dotnet build drills/DrillClient/DrillClient.csproj -c Release -v q -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
# The app as production runs it: published for the runtime, ReadyToRun (as the Dockerfile does), so first-use
# code paths are not compiled by the JIT in the middle of a drill's burst.
dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -r linux-x64 --self-contained false -o "$APP_DIR" -v q -nologo >>"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

start_redis "$REDIS_PORT" "$work/redis"
if [ "$drill" = redis ]; then
  # A dataset of some size, so that the restarted Redis spends a moment loading its AOF (and answers LOADING).
  redis-cli -p "$REDIS_PORT" EVAL "for i=1,${DRILL_FILLER_KEYS:-1000000} do redis.call('SET','drill:filler:'..i,string.rep('x',100)) end return 1" 0 >/dev/null
fi
[ "$drill" = redis ] || [ "$drill" = abuse ] || { start_s3rver "$S3_PORT" "$work/s3" "$BUCKET"; disown -a; }
start_app
[ "$drill" = orphan ] && start_app 2

args=(--url "http://127.0.0.1:$APP_PORT" --url2 "http://127.0.0.1:$((APP_PORT + 10))" --lease "$WORK_LEASE" --ctl "bash drills/run.sh _ctl $drill" --redis "127.0.0.1:$REDIS_PORT"
      --s3 "http://127.0.0.1:$S3_PORT" --bucket "$BUCKET" --gc-grace "$GC_GRACE")
case "$drill" in
  redis) args+=(--before "${DRILL_BEFORE:-10}" --down "${DRILL_DOWN:-10}" --after "${DRILL_AFTER:-8}") ;;
  s3) args+=(--down "${DRILL_DOWN:-25}") ;;
  abuse) args+=(--before "${DRILL_BEFORE:-10}" --down "${DRILL_DOWN:-20}" --after "${DRILL_AFTER:-10}" --app-logs "$work/logs" --app-pid "$(cat "$work/app.pid")" --ws-cap 32) ;;
esac
# The kernel's listen-queue counters (the whole machine): a SYN dropped on a full accept queue costs its client a 1 s retransmit.
listen_counters() { nstat -asz TcpExtListenOverflows TcpExtListenDrops TcpExtSyncookiesSent 2>/dev/null | awk 'NR>1 {printf "%s %s  ", $1, $2}'; }
listen_before=$(listen_counters)
# DRILL_COUNTERS=1: the app's runtime and Kestrel counters each second (dotnet-counters) into $work/counters.csv.
if [ "${DRILL_COUNTERS:-0}" = 1 ] && [ -f "$work/app.pid" ]; then
  "${DOTNET_COUNTERS:-$HOME/.dotnet/tools/dotnet-counters}" collect --process-id "$(cat "$work/app.pid")" --refresh-interval 1 --format csv \
    -o "$work/counters.csv" --counters System.Runtime,Microsoft.AspNetCore.Server.Kestrel >"$work/counters.log" 2>&1 &
  counters_pid=$!
fi
set +e
dotnet drills/DrillClient/bin/Release/net10.0/DrillClient.dll "$drill" "${args[@]}" 2>&1 | tee "$work/drill.log"
status=${PIPESTATUS[0]}
set -e
[ -n "${counters_pid:-}" ] && { kill "$counters_pid" 2>/dev/null; wait "$counters_pid" 2>/dev/null || true; }
echo "listen queues before: $listen_before" | tee -a "$work/drill.log"
echo "listen queues after:  $(listen_counters)" | tee -a "$work/drill.log"
errors=0; [ -f "$work/logs/error.log" ] && errors=$(wc -l <"$work/logs/error.log")
echo "app error log: $errors lines ($work/logs/error.log; errors are expected while a dependency is away)"
exit "$status"
