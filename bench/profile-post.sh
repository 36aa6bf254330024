#!/usr/bin/env bash
# Where a post's time goes (docs/BENCHMARKS.md, "Where a post's time goes"): starts a Redis and the app (Release,
# perf map on), one user posts a 10-word message with wrk -c32 as bench/load.sh's post route does, `perf record -g`
# samples the app, and each sample is put to the nearest frame of the table's parts (leaf first). Prints the table
# (app CPU µs per post) and Redis's CPU and commands per post. Needs perf (Debian's linux-perf).
# Options: --seconds 15. Ports: BENCH_APP_PORT (3351), BENCH_REDIS_PORT (6461).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
seconds=15
[ "${1:-}" = "--seconds" ] && seconds=$2
APP_PORT="${BENCH_APP_PORT:-3351}"
REDIS_PORT="${BENCH_REDIS_PORT:-6461}"
work=.data/bench-profile-post
rm -rf "$work" && mkdir -p "$work"
ensure_redis_installed
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v perf >/dev/null 2>&1 || apt_install linux-perf

app=""
cleanup() { stop_process "$app"; stop_redis "$work/redis"; }
trap cleanup EXIT
start_redis "$REDIS_PORT" "$work/redis"
dotnet build src/NanoBanana/NanoBanana.csproj -c Release -v q -nologo >/dev/null
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
wrk.body = '{"role":"user","text":"a lighthouse on a cliff at sunset, watercolor, soft light","imageIds":[]}'
LUA
wrk -t1 -c32 -d5s -s "$work/post.lua" "$url/api/sessions/$session/messages" >/dev/null # warm-up: JIT, pools

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
redis_pid=$(cat "$work/redis/redis.pid")
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
app0=$(cpu "$app"); redis0=$(cpu "$redis_pid")
perf record -F 999 -g -p "$app" -o "$work/perf.data" -- sleep "$((seconds - 1))" >"$work/perf.log" 2>&1 &
recorder=$!
wrk -t1 -c32 -d"${seconds}s" -s "$work/post.lua" "$url/api/sessions/$session/messages" >"$work/wrk.txt"
app1=$(cpu "$app"); redis1=$(cpu "$redis_pid")
wait "$recorder"
posts=$(grep -oP '\d+(?= requests in)' "$work/wrk.txt")
redis-cli -p "$REDIS_PORT" info commandstats >"$work/commandstats.txt"
perf script -i "$work/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$work/samples.txt"

python3 - "$work" "$posts" "$seconds" "$app0" "$app1" "$redis0" "$redis1" "$(getconf CLK_TCK)" <<'PY'
import sys, collections
work, posts, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
app0, app1, redis0, redis1, tck = map(float, sys.argv[4:9])
app_us = (app1 - app0) / tck * 1e6 / posts
# The table's parts, each with the frames that name it; a sample goes to the first part named by its
# innermost frame that names one (so a JSON writer called by the commit counts as the commit's).
parts = [
  ("fan-out: pub/sub message, frame, socket writes", ["RealtimeHub", "Realtime.Connection", "Realtime.Frames", "ManagedWebSocket", "ChannelMessageQueue"]),
  ("JSON: event payloads, answer, stored record", ["MessageRecord::JsonBytes", "CommitChanges::PayloadOf", "CommitChanges::Serialize", "HttpResultsHelper", "WriteAsJsonAsync", "HttpResponseJsonExtensions"]),
  ("decide: message, session, search terms", ["SearchText", "SearchIndex::Terms", "NewMessage::Add", "MessageRecord::AsStored", "StoredText", "SessionTitles", "Ids::New"]),
  ("commit: writes recorded, log entries, script arguments", ["RedisWrites", "CommitChanges", "EventLog::Append", "MessageRecord::Write", "SessionRecord::Write", "SearchIndex::Add", "UserChange"]),
  ("validation (FluentValidation)", ["ValidationMiddleware", "FluentValidation", "Validators"]),
  ("turn (UserGates)", ["UserGates", "OneChangeAtATime"]),
  ("load: the one read batch, parsing its replies", ["PostMessageHandler", "UserBasis", "SessionRecord", "NewMessage::Read", "SessionOrder", "SearchIndex::NextNumber"]),
  ("request body: object check and JSON binding", ["ReadFromJsonAsync", "JsonObjectBodies", "HttpRequestJsonExtensions", "JsonBodyLimit", "GeneratedRouteBuilderExtensions", "PostMessageEndpoint"]),
  ("Wolverine pipeline (InvokeAsync, handler chain)", ["Wolverine", "JasperFx"]),
  ("request log line (Serilog, background writer)", ["RequestLoggingMiddleware::LogCompletion", "Serilog.Events", "Serilog.Formatting", "Serilog.Sinks", "Serilog.Core", "Serilog.Parsing", "Serilog.Capturing", "BackgroundLogWriter", "Observability.RequestLog::", "RequestLine", "Observability.Utf8", "LogFile", "LogEscaping", "Microsoft.Extensions.Logging"]),
  ("auth (JWT, sign-in check) and rate limiter", ["JwtBearer", "Authentication", "Jwt", "SignIns", "Caller", "VerifiedTokens", "AccessTokens", "Authorization", "AuthSetup", "RateLimit", "SharedWindowLimiter"]),
  ("Redis client: writing commands, reading replies", ["StackExchange.Redis", "RESPite", "Pipelines.Sockets"]),
  ("HTTP: Kestrel parsing, routing, answer writing, socket engine", ["Kestrel", "Http1", "AspNetCore.", "Carter", "RequestLoggingMiddleware", "Observability.RequestLog+", "HttpPipeline", "UserDataCache", "RequestMetrics", "System.Net.Sockets"]),
  ("other app code", ["[NanoBanana]"]),
]
counts = collections.Counter()
sample = []
def count(sample):
    if not sample or sample[0].startswith(".NET Tiered"): return  # the JIT's background tier-up: start-up, not per post
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
print(f"{posts} posts in {seconds:.0f} s ({posts / seconds:.0f}/s), {total} samples")
print("| app CPU per post, µs | |\n| --- | --- |")
for name, n in counts.most_common():
    print(f"| {name} | {app_us * n / total:.0f} |")
print(f"| **in all** | **{app_us:.0f}** |")
calls = sum(int(l.split("calls=")[1].split(",")[0]) for l in open(f"{work}/commandstats.txt") if l.startswith("cmdstat_"))
print(f"Redis: {(redis1 - redis0) / tck * 1e6 / posts:.0f} µs of CPU and {calls / posts:.1f} commands a post")
PY
