# Shared helpers for the run and test scripts. Source it; do not run it.

# True when something answers PING with +PONG on host:port (plain bash, no redis-cli needed).
redis_answers() {
  local host=$1 port=$2 reply=""
  { exec 9<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&9
  read -r -t 2 reply <&9 || true
  exec 9>&- 9<&-
  [[ "$reply" == +PONG* || "$reply" == -NOAUTH* ]]
}

apt_install() {
  echo "Installing $* from Debian's packages..." >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# The browser tests (category Browser) drive Debian's Chromium: Playwright cannot download its own here.
ensure_chromium_installed() {
  command -v chromium >/dev/null 2>&1 || [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || apt_install chromium
}

ensure_redis_installed() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  # Debian's package starts a system service on 6379; we run our own instances instead.
}

# start_redis PORT DIR [extra redis-server args...]: a Redis as this project needs it:
# AOF everysec, noeviction (it is the database, never a cache), data under DIR.
start_redis() {
  local port=$1 dir=$2; shift 2
  if redis_answers 127.0.0.1 "$port"; then
    echo "Port $port already has a Redis that is not ours; pick another port (TEST_REDIS_PORT=...)." >&2
    return 1
  fi
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$(cd "$dir" && pwd)" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --save "" --daemonize yes --pidfile "$(cd "$dir" && pwd)/redis.pid" \
    --logfile "$(cd "$dir" && pwd)/redis.log" "$@" >/dev/null
  for _ in $(seq 1 100); do
    # Ours answers only once its pid file names a live process.
    if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null && redis_answers 127.0.0.1 "$port"; then
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start on port $port; see $dir/redis.log" >&2
  return 1
}

stop_redis() {
  local dir=$1
  local pid
  pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/redis.pid"
}

# wait_for_http URL PID LOG [STATUS]: waits (60 s at most) until URL answers: with STATUS, that HTTP
# status; without, any. Fails at once, with LOG's tail, when process PID has exited meanwhile.
wait_for_http() {
  local url=$1 pid=$2 log=$3 want=${4:-} code
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before $url answered; see $log" >&2
      tail -20 "$log" >&2 || true
      return 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    if [ -n "$want" ]; then [ "$code" = "$want" ] && return 0; else [ "$code" != 000 ] && [ -n "$code" ] && return 0; fi
    sleep 0.2
  done
  echo "$url did not answer${want:+ $want} within 60 s; see $log" >&2
  return 1
}

# dockerfile_runtime_env: the variables the Dockerfile sets for the runtime (allocator, GC), one VAR=value a line, read from it so that
# benches run the app as the image does.
dockerfile_runtime_env() { sed -n 's/^ENV \(MALLOC_[A-Z_]*=[^ ]*\|DOTNET_[A-Za-z0-9_]*=[^ ]*\).*/\1/p' Dockerfile; }

# stop_process PID: SIGTERM (the app logs its shutdown and flushes its logs), SIGKILL after 10 s.
stop_process() {
  local pid=${1:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# The S3-compatible server of the storage tests (s3rver from npm), installed from tools/s3rver's lockfile.
ensure_s3rver_installed() {
  command -v node >/dev/null 2>&1 || apt_install nodejs npm
  [ -x tools/s3rver/node_modules/.bin/s3rver ] && return 0
  echo "Installing s3rver (npm ci in tools/s3rver)..." >&2
  (cd tools/s3rver && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci in tools/s3rver failed" >&2; return 1; }
}

# start_s3rver PORT DIR BUCKET: s3rver on 127.0.0.1:PORT with its data under DIR and BUCKET created.
start_s3rver() {
  local port=$1 dir=$2 bucket=$3
  mkdir -p "$dir/data"
  node tools/s3rver/node_modules/.bin/s3rver -d "$dir/data" -a 127.0.0.1 -p "$port" --silent \
    --configure-bucket "$bucket" >"$dir/s3rver.log" 2>&1 &
  echo $! >"$dir/s3rver.pid"
  for _ in $(seq 1 100); do
    { exec 8<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null && { exec 8>&- 8<&-; return 0; }
    sleep 0.1
  done
  echo "s3rver did not start on port $port; see $dir/s3rver.log" >&2
  return 1
}

stop_s3rver() {
  local dir=$1 pid
  pid=$(cat "$dir/s3rver.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/s3rver.pid"
}

# openapi_checks DIR: lints DIR/openapi.json with Spectral (spectral:oas, errors fail) and type-checks the client
# openapi-typescript generates from it against the real answers in DIR/answers (tools/openapi/shapes.ts).
# Sets OPENAPI_FAILED to the number of the two checks that failed.
openapi_checks() {
  local dir=$1 tools=tools/openapi
  OPENAPI_FAILED=0
  # npm ci wipes node_modules: only when the lock file changed since the last install here.
  if ! cmp -s "$tools/package-lock.json" "$tools/node_modules/.installed-lock.json"; then
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed in $tools" >&2; OPENAPI_FAILED=2; return 1; }
    cp "$tools/package-lock.json" "$tools/node_modules/.installed-lock.json"
  fi
  if (cd "$tools" && npx --no-install spectral lint --fail-severity=error -r .spectral.yaml -f text "$dir/openapi.json" >"$dir/spectral.txt" 2>&1); then
    echo "OpenAPI: spectral:oas found no error ($(grep -c ' warning ' "$dir/spectral.txt") warnings, see $dir/spectral.txt)."
  else
    echo "OpenAPI: spectral:oas found errors:" >&2; grep -v ' warning ' "$dir/spectral.txt" >&2; OPENAPI_FAILED=$((OPENAPI_FAILED + 1))
  fi
  if (cd "$tools" && rm -rf .generated && npx --no-install openapi-typescript "$dir/openapi.json" -o .generated/api.ts --silent \
        && node answers.mjs "$dir/answers" && npx --no-install tsc --noEmit -p .) >"$dir/typescript.txt" 2>&1; then
    echo "OpenAPI: the generated TypeScript client type-checks against the real answers."
  else
    echo "OpenAPI: the generated TypeScript client does not type-check:" >&2; cat "$dir/typescript.txt" >&2; OPENAPI_FAILED=$((OPENAPI_FAILED + 1))
  fi
  [ "$OPENAPI_FAILED" -eq 0 ]
}
