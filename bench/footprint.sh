#!/usr/bin/env bash
# Start-up time and idle memory of a published Release instance (issue 17, "Footprint").
# Publishes the app, starts a Redis of its own, then RUNS times (default 5): starts the app with the
# Dockerfile's runtime environment, times process start -> first /health 200 (wall clock, and the CPU
# time the process used until then, which a machine busy with other work does not inflate), lets it sit idle for
# SETTLE seconds (default 10) and reads its resident memory from /proc. Prints each run and the medians.
# BENCH_BARE=1 runs without the Dockerfile's allocator/GC variables (the "before" of those settings).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

RUNS="${RUNS:-5}"
SETTLE="${SETTLE:-10}"
PORT="${BENCH_PORT:-3197}"
REDIS_PORT="${BENCH_REDIS_PORT:-6397}"
work=.data/bench-footprint
rm -rf "$work" && mkdir -p "$work"

ensure_redis_installed
start_redis "$REDIS_PORT" "$work/redis"
app=""
cleanup() { stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT

# As the Dockerfile publishes: for linux-x64, so ReadyToRun.
dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -r linux-x64 --self-contained false -o "$work/app" --nologo -v q >"$work/publish.log" 2>&1 \
  || { tail -30 "$work/publish.log"; exit 1; }

# The variables the Dockerfile sets for the runtime (read from it, so the two cannot drift apart).
runtime_env=()
if [ -z "${BENCH_BARE:-}" ]; then
  while read -r kv; do runtime_env+=("$kv"); done < <(sed -n 's/^ENV \(MALLOC_[A-Z_]*=[^ ]*\|DOTNET_[A-Za-z_]*=[^ ]*\).*/\1/p' Dockerfile)
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

echo "runtime env: ${runtime_env[*]:-(none)}"
printf '%-4s %12s %10s %10s %10s %10s\n' run health_ms cpu_ms rss_mib anon_mib file_mib
: >"$work/runs.tsv"
for run in $(seq 1 "$RUNS"); do
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  start=$(date +%s%N)
  env "${runtime_env[@]}" ASPNETCORE_ENVIRONMENT=Production JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" \
    PORT="$PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" \
    dotnet "$work/app/NanoBanana.dll" >"$work/app-$run.log" 2>&1 &
  app=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)" = 200 ]; do
    kill -0 "$app" 2>/dev/null || { tail -20 "$work/app-$run.log"; exit 1; }
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 60000 ] || { echo "no /health 200 within 60 s" >&2; exit 1; }
    sleep 0.01
  done
  health_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  cpu_ms=$(awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$app/stat")
  sleep "$SETTLE"
  rss=$(kib "$app" VmRSS); anon=$(kib "$app" RssAnon); file=$(kib "$app" RssFile)
  printf '%s\t%s\t%s\t%s\t%s\n' "$health_ms" "$cpu_ms" "$((rss / 1024))" "$((anon / 1024))" "$((file / 1024))" >>"$work/runs.tsv"
  printf '%-4s %12s %10s %10s %10s %10s\n' "$run" "$health_ms" "$cpu_ms" "$((rss / 1024))" "$((anon / 1024))" "$((file / 1024))"
  stop_process "$app"; app=""
done
printf '%-4s %12s %10s %10s %10s %10s\n' median \
  "$(cut -f1 "$work/runs.tsv" | median)" "$(cut -f2 "$work/runs.tsv" | median)" "$(cut -f3 "$work/runs.tsv" | median)" \
  "$(cut -f4 "$work/runs.tsv" | median)" "$(cut -f5 "$work/runs.tsv" | median)"
