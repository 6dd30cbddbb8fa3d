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
. "$HERE/lib.sh"
browser_require
browser_npm

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rcache-browser.XXXXXX")
SPID= BPID=
cleanup() {
  [ -n "$BPID" ] && kill "$BPID" 2>/dev/null
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
TOKEN=browser-test-$RANDOM$RANDOM$RANDOM
mkdir -p "$TMP/snap"
start_rcached "$TOKEN" --threads 2 --max-items 0 --admin-timeout 60 --dir "$TMP/snap" \
  --save "" --snapshot-on-shutdown no
[ -n "$SPID" ] || exit 1

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
