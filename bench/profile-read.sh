#!/usr/bin/env bash
# Where a cached read's time goes: starts a Redis and the
# app (Release, perf map on), one user reads the newest page of 50 messages with wrk -c32 as bench/load.sh's read
# route does (after the first reads, from the read cache), `perf record -g` samples the app, and each sample is put to
# the nearest frame of the table's parts (leaf first). Prints the table (app CPU µs per read). Needs perf.
# Options: --seconds 15; --miss: each read with a query of its own (load.sh's read-miss route: never from the read cache);
# --list: the session list (first page: 20 of 30, load.sh's list route) instead of the message page.
# Ports: BENCH_APP_PORT (3353), BENCH_REDIS_PORT (6463).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
seconds=15
miss=""
list=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --miss) miss=1; shift ;;
    --list) list=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
APP_PORT="${BENCH_APP_PORT:-3353}"
REDIS_PORT="${BENCH_REDIS_PORT:-6463}"
work=.data/bench-profile-read
rm -rf "$work" && mkdir -p "$work"
ensure_redis_installed
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v perf >/dev/null 2>&1 || apt_install linux-perf

app=""
cleanup() { stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT
start_redis "$REDIS_PORT" "$work/redis"
[ -n "${NO_BUILD:-}" ] || dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
# W^X off: perf reads JIT code through the perf map, which double-mapped code pages would hide.
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 ASPNETCORE_ENVIRONMENT=Production API_DOCS=false \
  JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789" PORT="$APP_PORT" REDIS_URL="127.0.0.1:$REDIS_PORT" \
  LOG_DIR="$work/logs" LOCAL_STORAGE_PATH="$work/uploads" PASSWORD_HASH_ITERATIONS=1000 \
  RATE_LIMIT_PER_USER=1000000000 RATE_LIMIT_PER_ADDRESS=1000000000 PASSWORD_RATE_PER_ADDRESS=1000000000 \
  dotnet src/NanoBanana/bin/Release/net10.0/NanoBanana.dll >"$work/app.log" 2>&1 &
app=$!
wait_for_http "http://127.0.0.1:$APP_PORT/health" "$app" "$work/app.log" 200

url="http://127.0.0.1:$APP_PORT"
token=$(curl -sf -X POST "$url/api/auth/register" -H 'content-type: application/json' \
  -d '{"email":"profile@example.com","username":"profile_1","password":"benchmark password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
session=$(curl -sf -X POST "$url/api/sessions" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"title":"profile"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["id"])')
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"role":"user","text":"a lighthouse on a cliff at sunset, watercolor, soft light, seen from the sea at dusk with gulls and a small boat, long exposure, film grain, wide angle, 35mm, golden hour, high detail, muted colours, calm water, distant storm clouds, a path up the cliff, tall grass, wind, warm windows","imageIds":[]}'
LUA
# A page of 50 messages of about 360 bytes each (load.sh's page is about 18 KB).
wrk -t1 -c4 -d2s -s "$work/post.lua" "$url/api/sessions/$session/messages" >/dev/null
path="/api/sessions/$session/messages?limit=50&offset=0"
if [ -n "$list" ]; then
  # 30 sessions (the one above and 29 more): the first page lists 20 of them (about 5 KB).
  for i in $(seq 2 30); do
    curl -sf -X POST "$url/api/sessions" -H "authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"title\":\"profile $i\"}" >/dev/null
  done
  path="/api/sessions?limit=20"
fi
cat >"$work/read.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA
if [ -n "$miss" ]; then
  # A query of its own per request, under the run's prefix (wrk's Lua repeats its random numbers from run to run).
  cat >>"$work/read.lua" <<LUA
local n = 0
local run = ""
init = function(args) run = args[1] end
request = function()
  n = n + 1
  return wrk.format(nil, "$path&n=" .. run .. "-" .. n)
end
LUA
fi
wrk -t1 -c32 -d5s -s "$work/read.lua" "$url$path" -- warm >/dev/null # warm-up: JIT, pools, the read cache
curl -sf -H "authorization: Bearer $token" "$url$path" | wc -c | xargs echo "bytes/answer:"

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
app0=$(cpu "$app")
perf record -F 999 -g -p "$app" -o "$work/perf.data" -- sleep "$((seconds - 1))" >"$work/perf.log" 2>&1 &
recorder=$!
wrk -t1 -c32 -d"${seconds}s" -s "$work/read.lua" "$url$path" -- run >"$work/wrk.txt"
app1=$(cpu "$app")
wait "$recorder"
reads=$(grep -oP '\d+(?= requests in)' "$work/wrk.txt")
perf script -i "$work/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$work/samples.txt"

python3 - "$work" "$reads" "$seconds" "$app0" "$app1" "$(getconf CLK_TCK)" "${miss:-0}" "${list:-0}" <<'PY'
import sys, collections
work, reads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
app0, app1, tck = map(float, sys.argv[4:7])
miss = sys.argv[7] == "1"
what = "list" if sys.argv[8] == "1" else "page"
app_us = (app1 - app0) / tck * 1e6 / reads
# The table's parts, each with the frames that name it; a sample goes to the first part named by its
# innermost frame that names one.
parts = [
  ("request log: the line on the request thread", ["RequestLoggingMiddleware::LogCompletion", "RequestLog::", "Serilog.Context", "LogContext", "DiagnosticContext"]),
  ("request log: the background writer (render, escape, files, console)", ["Serilog.Events", "Serilog.Formatting", "Serilog.Sinks", "Serilog.Core", "Serilog.Parsing", "Serilog.Capturing", "Serilog.Extensions", "BackgroundLogWriter", "RequestLine", "Observability.Utf8", "LogFile", "LogEscaping", "Microsoft.Extensions.Logging"]),
  ("rate limiter", ["RateLimit", "SharedWindowLimiter"]),
  ("auth: JWT, sign-in check, authorization", ["JwtBearer", "Authentication", "Jwt", "IdentityModel", "SignIns", "Caller", "VerifiedTokens", "AccessTokens", "Authorization", "AuthSetup", "Claims"]),
  ("read cache: lookup (the user's seq) and answer", ["UserDataCache", "UserAnswers", "EventLog"]),
  ("validation (FluentValidation)", ["FluentValidation", "Validator", "Validation"]),
  ("page read: handler, PageAnswer, the Lua script's arguments", ["ListMessages", "ListSessions", "PageAnswer", "Paging", "LuaScript", "ScriptParameter"]),
  ("Wolverine pipeline (InvokeAsync, executor, context)", ["Wolverine", "JasperFx", "Lamar"]),
  ("Redis client: writing commands, reading replies", ["StackExchange.Redis", "RESPite", "Pipelines.Sockets"]),
  ("HTTP: Kestrel parsing, routing, headers, answer writing, socket engine", ["Kestrel", "Http1", "AspNetCore.", "Observability.RequestLog+", "HttpPipeline", "RequestMetrics", "System.Net.Sockets", "System.IO.Pipelines"]),
  ("other app code", ["[NanoBanana]"]),
]
counts = collections.Counter()
sample = []
def count(sample):
    if not sample or sample[0].startswith(".NET Tiered"): return  # the JIT's background tier-up: start-up, not per read
    frames = sample[1:]
    for frame in frames:
        for name, names in parts:
            if any(n in frame for n in names):
                counts[name] += 1; return
    text = "".join(frames)
    counts["runtime: GC, allocation, thread pool" if any(n in text for n in ["libcoreclr", "System.Private.CoreLib", "libclrjit"])
           else "kernel: socket send/receive, thread wake-ups" if "kernel" in text else "other"] += 1
for line in open(f"{work}/samples.txt", errors="replace"):
    if line.strip(): sample.append(line)
    else: count(sample); sample = []
count(sample)
total = sum(counts.values())
print(f"{reads} reads in {seconds:.0f} s ({reads / seconds:.0f}/s), {total} samples")
print(f"| app CPU per {'cache-miss' if miss else 'cached'} {what} read, µs | |\n| --- | --- |")
for name, n in counts.most_common():
    print(f"| {name} | {app_us * n / total:.0f} |")
print(f"| **in all** | **{app_us:.0f}** |")
PY
