# lib.sh - what the browser tests' runners share (sourced by run.sh and
# run_tier.sh): the skip checks, installing playwright-core with `npm ci`
# from package-lock.json into the build tree, and starting rcached on free
# ports. Callers set HERE, BUILD, TMP and RCACHED.

# Exit 77 (skipped) without chromium, node/npm or redis-cli.
browser_require() {
  CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$CHROMIUM" ] || { echo "SKIP: $CHROMIUM not installed (scripts/deps.sh installs it)"; exit 77; }
  command -v npm >/dev/null && command -v node >/dev/null || { echo "SKIP: node/npm missing"; exit 77; }
  command -v redis-cli >/dev/null || { echo "SKIP: redis-cli missing"; exit 77; }
}

# npm ci into $BUILD/browser-npm when the lockfile changed (scripts/npm-ci-once.sh:
# the two browser tests run in parallel); sets NPMDIR.
browser_npm() {
  NPMDIR=$BUILD/browser-npm
  mkdir -p "$NPMDIR" "$BUILD/artifacts"
  "$HERE/../../scripts/npm-ci-once.sh" "$HERE" "$NPMDIR" || { echo "npm ci failed"; exit 1; }
}

# start_rcached TOKEN [rcached options...]: rcached on a free port pair
# (RPORT, APORT = RPORT + 1), up to 20 tries, each waiting (60 s at most)
# for PING and /healthz; sets SPID (empty on failure, with the reason on
# stdout). Output in $TMP/out and $TMP/err.
start_rcached() {
  local token=$1 deadline
  shift
  SPID=
  for _ in $(seq 20); do
    RPORT=$((20000 + RANDOM % 40000)); APORT=$((RPORT + 1))
    "$RCACHED" --port "$RPORT" --admin-port "$APORT" --admin-token "$token" "$@" \
      >"$TMP/out" 2>"$TMP/err" &
    SPID=$!
    deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
      kill -0 "$SPID" 2>/dev/null || break
      if [ "$(redis-cli -p "$RPORT" PING 2>/dev/null)" = PONG ] &&
         curl -s -m 60 -o /dev/null "http://127.0.0.1:$APORT/healthz"; then return 0; fi
      sleep 0.05
    done
    kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
  done
  echo "rcached did not start: $(cat "$TMP/err")"
}
