#!/usr/bin/env bash
# Runs every test against a real Redis (and, for the S3 storage suite, a real S3-compatible server)
# that this script installs if needed, starts on its own ports, and stops afterwards.
# Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TEST_REDIS_PORT="${TEST_REDIS_PORT:-6391}"
TEST_S3_PORT="${TEST_S3_PORT:-4569}"
work=.data/test
# One run at a time per checkout: a second run would delete the first one's pid files below and
# orphan its Redis processes.
mkdir -p .data
exec 9>.data/test.lock
if ! flock -n 9; then echo "Another test run is using $work in this checkout; wait for it to end." >&2; echo "0 passed, 1 failed"; exit 1; fi
rm -rf "$work" && mkdir -p "$work"

ensure_redis_installed || exit 1
ensure_chromium_installed || exit 1
start_redis "$TEST_REDIS_PORT" "$work/redis" || exit 1
ensure_s3rver_installed || exit 1
start_s3rver "$TEST_S3_PORT" "$work/s3" nanobanana-test || exit 1
TEST_CLUSTER_PORT="${TEST_CLUSTER_PORT:-7111}"
export CLUSTER_DIR="$work/cluster"
cleanup() {
  stop_s3rver "$work/s3"; stop_redis "$work/redis"
  bash deploy/redis-cluster.sh stop "$TEST_CLUSTER_PORT" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A 3-master Redis Cluster for the scale-out tests (category Cluster): two app instances on it.
NB_TEST_CLUSTER=$(bash deploy/redis-cluster.sh start "$TEST_CLUSTER_PORT") || exit 1
export NB_TEST_CLUSTER

export NB_TEST_REDIS="127.0.0.1:$TEST_REDIS_PORT"
export NB_TEST_S3="http://127.0.0.1:$TEST_S3_PORT"

dotnet test NanoBanana.sln -c Release --logger "trx;LogFileName=results.trx" \
  --results-directory "$work/results" "$@"
status=$?

passed=0; failed=0
for trx in "$work"/results/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "dotnet test failed before running every test (exit $status)." >&2; fi
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
