#!/usr/bin/env bash
# Start-up time and idle memory of a published Release instance (issue 17, "Footprint").
# Publishes the app, starts a Redis of its own, then RUNS times (default 5): starts the app with the
# Dockerfile's runtime environment, times process start -> first /health 200 (wall clock, and the CPU
# time the process used until then, which a machine busy with other work does not inflate), lets it sit idle for
# SETTLE seconds (default 10) and reads its resident memory from /proc. Prints each run and the medians,
# checks them against the targets (/health 200 within 2 s of process start, at most 200 MiB resident when
# idle), and writes the "## Footprint" section of docs/BENCHMARKS.md: the figures, the machine and its load
# (uptime) before and after, and where the last run's resident memory goes (by mapping, from smaps).
# BENCH_BARE=1 runs without the Dockerfile's allocator/GC variables (the "before" of those settings); such
# a run only prints its figures.
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
  while read -r kv; do runtime_env+=("$kv"); done < <(dockerfile_runtime_env)
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "runtime env: ${runtime_env[*]:-(none)}; load average $load_before"
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
  # Resident KiB by mapping: shared objects by file name, the rest (GC heap, JIT, malloc) as anonymous.
  awk '/^[0-9a-f]+-[0-9a-f]+ / { n = split($6, p, "/"); name = $6 == "" ? "anonymous" : p[n] } /^Rss:/ { kb[name] += $2 }
       END { for (k in kb) if (kb[k] > 0) printf "%d\t%s\n", kb[k], k }' "/proc/$app/smaps" | sort -rn >"$work/mappings.tsv"
  printf '%s\t%s\t%s\t%s\t%s\n' "$health_ms" "$cpu_ms" "$((rss / 1024))" "$((anon / 1024))" "$((file / 1024))" >>"$work/runs.tsv"
  printf '%-4s %12s %10s %10s %10s %10s\n' "$run" "$health_ms" "$cpu_ms" "$((rss / 1024))" "$((anon / 1024))" "$((file / 1024))"
  stop_process "$app"; app=""
done
health_med=$(cut -f1 "$work/runs.tsv" | median); cpu_med=$(cut -f2 "$work/runs.tsv" | median)
rss_med=$(cut -f3 "$work/runs.tsv" | median); anon_med=$(cut -f4 "$work/runs.tsv" | median); file_med=$(cut -f5 "$work/runs.tsv" | median)
printf '%-4s %12s %10s %10s %10s %10s\n' median "$health_med" "$cpu_med" "$rss_med" "$anon_med" "$file_med"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
verdict() { awk -v v="$1" -v max="$2" 'BEGIN { print (v <= max) ? "met" : "not met" }'; }
health_verdict=$(verdict "$health_med" 2000); rss_verdict=$(verdict "$rss_med" 200)
echo "load average $load_before at the start, $load_after at the end; /health within 2 s: $health_verdict; 200 MiB idle: $rss_verdict"
[ -z "${BENCH_BARE:-}" ] || exit 0

# One row for the spread of the runs (lowest-highest per column); the median row follows.
runs_table=$(awk -F'\t' '{ for (i = 1; i <= 5; i++) { if (NR == 1 || $i < lo[i]) lo[i] = $i; if (NR == 1 || $i > hi[i]) hi[i] = $i } }
  END { printf "| %d runs: lowest-highest | %s-%s ms | %s-%s ms | %s-%s MiB | %s-%s / %s-%s MiB |", NR, lo[1], hi[1], lo[2], hi[2], lo[3], hi[3], lo[4], hi[4], lo[5], hi[5] }' "$work/runs.tsv")
mappings=$(head -8 "$work/mappings.tsv" | awk -F'\t' '{ printf "%s%s %.1f MiB", (NR > 1 ? ", " : ""), $2, $1 / 1024 }')
section="## Footprint

Measured $(date -u '+%Y-%m-%d %H:%M') UTC by \`bash bench/footprint.sh\` (RUNS=$RUNS, SETTLE=$SETTLE s) on this machine ($(nproc) cores,
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load average $load_before at the start and $load_after at the end: under load a wall-clock start-up
waits for a core, the CPU until then does not). The app is published as the Dockerfile does (Release, linux-x64, ReadyToRun),
started with its runtime variables (${runtime_env[*]:-none}) against a Redis of its own; resident memory is read after $SETTLE s idle.

| runs | process start -> /health 200 (wall) | CPU until then | resident idle | anonymous / file-backed |
| --- | --- | --- | --- | --- |
$runs_table
| **median** | **$health_med ms** | **$cpu_med ms** | **$rss_med MiB** | **$anon_med / $file_med MiB** |

Targets: /health 200 within 2 s of process start: **$health_verdict** (median wall clock); at most 200 MiB resident when idle: **$rss_verdict**.
Where the last run's resident memory goes (largest mappings): $mappings."
tmp=$(mktemp)
if grep -q '^## Footprint$' docs/BENCHMARKS.md; then
  SECTION="$section" awk '/^## / { skip = 0 } $0 == "## Footprint" { print ENVIRON["SECTION"]; print ""; skip = 1; next } !skip' docs/BENCHMARKS.md >"$tmp"
else
  { cat docs/BENCHMARKS.md; echo; echo "$section"; } >"$tmp"
fi
mv "$tmp" docs/BENCHMARKS.md
echo "wrote the Footprint section of docs/BENCHMARKS.md"
