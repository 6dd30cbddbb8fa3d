#!/usr/bin/env bash
# npm_ci_once_test.sh - regression test for the parallel-install race that
# failed CI (stop 20): `npm ci` creates node_modules/ioredis before its files
# are written, and a second node test that saw the directory ran node against
# the half-written tree ("Cannot find module 'ioredis'").
#
# Copies run-node-test.sh and scripts/npm-ci-once.sh into a scratch tree with
# a fake `npm` (its install stops half-way until told to go on) and a fake
# `node` (fails unless the package's file is there) on PATH. Caller A starts
# the install; caller B starts once A is inside it. B must not run node until
# A's install is complete: the test waits, with explicit synchronisation and
# no timing assumptions, until B has either finished (the bug) or is blocked
# on the install lock (seen in /proc/locks), then lets A finish. Both must
# pass, and npm must have installed once.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'touch "$tmp/sync/go" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tree/tests/server" "$tmp/tree/scripts" "$tmp/bin" "$tmp/sync"
cp "$src/tests/server/run-node-test.sh" "$src/tests/server/package.json" \
   "$src/tests/server/package-lock.json" "$tmp/tree/tests/server/"
cp "$src/scripts/npm-ci-once.sh" "$tmp/tree/scripts/"
export SYNC=$tmp/sync
cat >"$tmp/bin/npm" <<'FAKE'
#!/usr/bin/env bash
[ "$1" = ci ] || exit 2
echo x >>"$SYNC/installs"
rm -rf node_modules && mkdir -p node_modules/ioredis
touch "$SYNC/started"
for _ in $(seq 1200); do [ -e "$SYNC/go" ] && break; sleep 0.05; done
echo 'module.exports = {};' >node_modules/ioredis/index.js
FAKE
cat >"$tmp/bin/node" <<'FAKE'
#!/usr/bin/env bash
[ -f node_modules/ioredis/index.js ] || { echo "Cannot find module 'ioredis'"; exit 1; }
FAKE
chmod +x "$tmp/bin/npm" "$tmp/bin/node"
export PATH=$tmp/bin:$PATH
run=$tmp/tree/tests/server/run-node-test.sh

wait_for() { # wait_for WHAT CMD...: up to 60 s for CMD to succeed
  local what=$1; shift
  for _ in $(seq 1200); do "$@" && return 0; sleep 0.05; done
  echo "FAIL: timed out waiting for $what"; exit 1
}
"$run" /bin/true a.test.js >"$tmp/a.out" 2>&1 & a=$!
wait_for "caller A to start the install" test -e "$SYNC/started"
"$run" /bin/true b.test.js >"$tmp/b.out" 2>&1 & b=$!
lock_inode=$(stat -c %i "$tmp/tree/tests/server/.npm-ci-once.lock" 2>/dev/null || echo none)
b_done_or_blocked() {
  ! kill -0 "$b" 2>/dev/null || grep -q -- "-> FLOCK .*:$lock_inode " /proc/locks
}
wait_for "caller B to finish or block on the install lock" b_done_or_blocked
touch "$SYNC/go"
rc=0
wait "$a" || { echo "FAIL: caller A: $(cat "$tmp/a.out")"; rc=1; }
wait "$b" || { echo "FAIL: caller B ran node before the install finished: $(cat "$tmp/b.out")"; rc=1; }
installs=$(wc -l <"$SYNC/installs")
[ "$installs" = 1 ] || { echo "FAIL: npm ci ran $installs times, want 1"; rc=1; }
[ "$rc" = 0 ] && echo "PASS: the second caller waited for the install; one npm ci"
exit "$rc"
