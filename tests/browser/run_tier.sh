#!/usr/bin/env bash
# run_tier.sh - the dashboard's second-tier panel in headless chromium
# (make test): starts a redis-server with a password on a free port,
# rcached with --l2 pointing at it, and runs tier.test.js, which kills the
# redis-server part-way (its pid is passed on). Screenshot in
# <build>/artifacts/dashboard_tier.png. Exit 77 (skipped) without
# chromium, npm or redis-server.
# Usage: run_tier.sh path/to/rcached build-dir
set -u
RCACHED=$1
BUILD=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
browser_require
command -v redis-server >/dev/null || { echo "SKIP: redis-server missing"; exit 77; }
browser_npm

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rcache-browser-tier.XXXXXX")
SPID= LPID=
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  [ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
TOKEN=browser-tier-$RANDOM$RANDOM$RANDOM
PASS=l2-secret-$RANDOM$RANDOM

# The L2: a redis-server on a free port (a port taken makes it exit).
for _ in $(seq 20); do
  LPORT=$((20000 + RANDOM % 40000))
  redis-server --port "$LPORT" --bind 127.0.0.1 --requirepass "$PASS" --save "" \
    --appendonly no --dir "$TMP" >"$TMP/l2.log" 2>&1 &
  LPID=$!
  deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$LPID" 2>/dev/null || break
    if [ "$(redis-cli -p "$LPORT" --no-auth-warning -a "$PASS" PING 2>/dev/null)" = PONG ]; then break 2; fi
    sleep 0.05
  done
  kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; LPID=
done
[ -n "$LPID" ] || { echo "redis-server did not start: $(cat "$TMP/l2.log")"; exit 1; }

start_rcached "$TOKEN" --threads 2 --l2 "redis://:$PASS@127.0.0.1:$LPORT"
[ -n "$SPID" ] || exit 1

NODE_PATH=$NPMDIR/node_modules CHROMIUM=$CHROMIUM \
  node "$HERE/tier.test.js" "http://127.0.0.1:$APORT" "$TOKEN" "$RPORT" "$LPORT" "$PASS" \
       "$LPID" "$BUILD/artifacts/dashboard_tier.png"
st=$?
if grep -q -- "$PASS" "$TMP/out" "$TMP/err"; then
  echo "FAIL rcached printed the L2 password"; st=1
fi
exit "$st"
