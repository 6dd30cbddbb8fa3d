#!/usr/bin/env bash
# run.sh - the dashboard browser test (make test): installs playwright-core
# with `npm ci` from tests/browser/package-lock.json into the build tree,
# starts rcached on free ports with a known token, keeps redis-benchmark
# traffic going (light bursts), seeds a key to delete and the XSS key (with
# snapshots on, in a temporary --dir, for the snapshot panel), and
# runs dashboard.test.js in Debian's headless chromium. The screenshot goes
# to <build>/artifacts/dashboard.png (and to docs/dashboard.png when
# RCACHE_UPDATE_SCREENSHOT=1). Exit 77 (skipped) without chromium or npm.
# Usage: run.sh path/to/rcached build-dir
set -u
RCACHED=$1
BUILD=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: $CHROMIUM not installed (scripts/deps.sh installs it)"; exit 77; }
command -v npm >/dev/null && command -v node >/dev/null || { echo "SKIP: node/npm missing"; exit 77; }
command -v redis-cli >/dev/null || { echo "SKIP: redis-cli missing"; exit 77; }

NPMDIR=$BUILD/browser-npm
mkdir -p "$NPMDIR" "$BUILD/artifacts"
if ! cmp -s "$HERE/package-lock.json" "$NPMDIR/package-lock.json" || [ ! -d "$NPMDIR/node_modules/playwright-core" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NPMDIR/"
  (cd "$NPMDIR" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; exit 1; }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rcache-browser.XXXXXX")
SPID= BPID=
cleanup() {
  [ -n "$BPID" ] && kill "$BPID" 2>/dev/null
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
TOKEN=browser-test-$RANDOM$RANDOM$RANDOM
for _ in $(seq 20); do
  RPORT=$((20000 + RANDOM % 40000)); APORT=$((RPORT + 1))
  mkdir -p "$TMP/snap"
  "$RCACHED" --port "$RPORT" --admin-port "$APORT" --admin-token "$TOKEN" --threads 2 \
    --max-items 0 --admin-timeout 60 --dir "$TMP/snap" --save "" \
    --snapshot-on-shutdown no >"$TMP/out" 2>"$TMP/err" &
  SPID=$!
  deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$SPID" 2>/dev/null || break
    if [ "$(redis-cli -p "$RPORT" PING 2>/dev/null)" = PONG ] &&
       curl -s -m 60 -o /dev/null "http://127.0.0.1:$APORT/healthz"; then break 2; fi
    sleep 0.05
  done
  kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
done
[ -n "$SPID" ] || { echo "rcached did not start: $(cat "$TMP/err")"; exit 1; }

redis-cli -p "$RPORT" SET victim:1 "delete me" >/dev/null
redis-cli -p "$RPORT" SET '<img src=x onerror=alert(1)>' xss >/dev/null
for _ in 1 2 3; do redis-cli -p "$RPORT" GET '<img src=x onerror=alert(1)>' >/dev/null; done
# Light redis-benchmark traffic in bursts (key:<n>, 1000 keys) until stopped.
if command -v redis-benchmark >/dev/null; then
  ( while :; do
      redis-benchmark -p "$RPORT" -t set,get -n 3000 -r 1000 -c 2 -q >/dev/null 2>&1
      sleep 0.3
    done ) &
  BPID=$!
fi

NODE_PATH=$NPMDIR/node_modules CHROMIUM=$CHROMIUM \
  node "$HERE/dashboard.test.js" "http://127.0.0.1:$APORT" "$TOKEN" "$RPORT" \
       "$BUILD/artifacts/dashboard.png"
st=$?
kill "$BPID" 2>/dev/null; wait "$BPID" 2>/dev/null; BPID=
if [ "$st" -eq 0 ] && [ "${RCACHE_UPDATE_SCREENSHOT:-0}" = 1 ]; then
  cp "$BUILD/artifacts/dashboard.png" "$HERE/../../docs/dashboard.png"
fi
exit "$st"
