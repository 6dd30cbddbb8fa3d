#!/usr/bin/env bash
# admin_diag.sh - the diagnostics endpoints and the dashboard inside the real
# rcached (issue 15): every /api/cache/{history,mrc,hotkeys,sizes,namespaces}
# needs the token (401 without, 403 wrong); with it, history fills once a
# second and moves with traffic, the hottest key is found, the size
# histogram and namespaces add up to DBSIZE, the MRC answers with a readout;
# /dashboard and its assets are served with a strict CSP, nosniff and
# frame-ancestors 'none', without a token.
# Usage: admin_diag.sh path/to/rcached
set -u
RCACHED=$1
. "$(dirname "$0")/admin_lib.sh"
SPID=
RPORT=
stop() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=; }
trap 'stop; rm -rf "$TMP"' EXIT
command -v redis-cli >/dev/null || { echo "SKIP: redis-cli not installed"; exit 0; }
rc() { redis-cli -p "$RPORT" "$@"; }

TOKEN=diag-test-token-0123456789
for _ in $(seq 20); do
  RPORT=$((20000 + RANDOM % 40000)); PORT=$((RPORT + 1))
  "$RCACHED" --port "$RPORT" --admin-port "$PORT" --admin-token "$TOKEN" --threads 2 \
    --admin-timeout 60 >"$TMP/out" 2>"$TMP/err" &
  SPID=$!
  deadline=$((SECONDS + HTTP_MAX_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$SPID" 2>/dev/null || break
    if [ "$(rc PING 2>/dev/null)" = PONG ] &&
       curl -s -m "$HTTP_MAX_S" -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
      break 2
    fi
    sleep 0.05
  done
  stop
done
[ -n "$SPID" ] || { fail "rcached did not start: $(cat "$TMP/err")"; finish; exit 1; }

# ---- token required -------------------------------------------------------
for p in history mrc hotkeys sizes namespaces; do
  req GET "/api/cache/$p"; expect_code 401 "$p without token"
  req GET "/api/cache/$p" -H "Authorization: Bearer wrong"; expect_code 403 "$p wrong token"
done

# ---- traffic: 3 namespaces, one hot key ----------------------------------
{
  for i in $(seq 1 200); do echo "SET user:$i v$i"; done
  for i in $(seq 1 50); do echo "SET session:$i $(printf '%0300d' "$i")"; done
  echo "SET plainkey x"
  # rcached's hot-key sample is 1 in 16 lookups (every 16th hit of each
  # shard): 4000 lookups of user:7 give it ~250 samples, every other key at
  # most a few
  for i in $(seq 1 4000); do echo "GET user:7"; [ $((i % 10)) -eq 0 ] && echo "GET user:$((i / 10 % 200 + 1))"; done
} | rc >/dev/null
DB=$(rc DBSIZE)
expect_eq "$DB" 251 "dbsize"

areq GET /api/cache/sizes; expect_code 200 "sizes"
expect_json items "$DB" "sizes total = DBSIZE"
SUM=$(grep -o '"items":[0-9]*' "$TMP/b" | tail -n +2 | cut -d: -f2 | paste -sd+ | bc)
expect_eq "$SUM" "$DB" "size buckets add up to DBSIZE"

areq GET /api/cache/namespaces; expect_code 200 "namespaces"
expect_body '"items":200,"bytes":' "user namespace count"
expect_body '"name":"user"' "user namespace"
expect_body '"items":50,' "session namespace count"
expect_body '"has_prefix":false' "keys without prefix"

# The census behind sizes and namespaces is kept while the cache does not
# change (the same walk served again: its age grows) and counted afresh
# after a change (a small cache's census is never kept across one).
age_grew() {
  areq GET /api/cache/sizes
  grep -qE '"age_seconds":0\.0*[1-9]|"age_seconds":[1-9]' "$TMP/b"
}
deadline=$((SECONDS + HTTP_MAX_S))
until age_grew || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
age_grew && ok || fail "census not kept while the cache is unchanged: $BODY"
rc SET user:201 v201 >/dev/null
areq GET /api/cache/namespaces; expect_code 200 "namespaces after a SET"
expect_body '"items":201,"bytes":' "namespaces recounted after a SET"
expect_body '"age_seconds":0' "a fresh census"
areq GET /api/cache/sizes; expect_json items 252 "sizes recounted after a SET"
rc DEL user:201 >/dev/null
areq GET /api/cache/sizes; expect_json items 251 "sizes recounted after a DEL"

areq GET "/api/cache/hotkeys?n=5"; expect_code 200 "hotkeys"
expect_json key "user:7" "hottest key first"
areq GET "/api/cache/hotkeys?n=x"; expect_code 400 "hotkeys bad n"

areq GET /api/cache/mrc; expect_code 200 "mrc"
expect_body '"readout":{' "mrc readout"
expect_body '"factor":2.0' "mrc 2x point"
expect_body '"sampling_rate":' "mrc estimator"

# ---- history: wait (no timing asserted) for samples that saw traffic -----
have_samples() {
  areq GET "/api/cache/history"
  local n; n=$(grep -o '"t_ms":\[[^]]*\]' "$TMP/b" | tr -cd ',' | wc -c)
  [ "$n" -ge "$1" ]
}
deadline=$((SECONDS + HTTP_MAX_S))
until have_samples 2 || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
expect_code 200 "history"
have_samples 2 && ok || fail "history has fewer than 3 samples: $BODY"
expect_body '"interval_ms":1000' "history interval"
for f in ops_per_s hits_per_s misses_per_s hit_ratio evictions_items_per_s \
         evictions_bytes_per_s expirations_per_s items bytes max_bytes clients compute_saved_s_per_s; do
  expect_body "\"$f\":[" "history series $f"
done
LAST=$(grep -o '"t_ms":\[[^]]*\]' "$TMP/b" | grep -o '[0-9]*\]' | tr -d ']')
areq GET "/api/cache/history?since=$LAST"; expect_code 200 "history since"
# The 1 s sampler may add a sample between the two requests, so "since"
# is checked by its contract: only samples taken after LAST come back.
SINCE_T=$(grep -o '"t_ms":\[[^]]*\]' "$TMP/b" | grep -o '[0-9][0-9]*')
since_ok=1
for t in $SINCE_T; do [ "$t" -gt "$LAST" ] || since_ok=0; done
[ "$since_ok" = 1 ] && ok || fail "history since $LAST returned an older sample: $BODY"
areq GET "/api/cache/history?since=-1"; expect_code 400 "history bad since"
# traffic shows up as a non-zero rate in some sample
for i in $(seq 1 100); do echo "GET user:$i"; done | rc >/dev/null
deadline=$((SECONDS + HTTP_MAX_S))
until { areq GET "/api/cache/history?since=$LAST"; grep -qE '"hits_per_s":\[[^]]*[1-9]' "$TMP/b"; } ||
      [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
if grep -qE '"hits_per_s":\[[^]]*[1-9]' "$TMP/b"; then ok; else fail "no hits/s in history: $BODY"; fi

# ---- the dashboard ---------------------------------------------------------
for p in /dashboard /dashboard/app.js /dashboard/app.css /dashboard/uPlot.iife.min.js; do
  req GET "$p"; expect_code 200 "$p"
  expect_header "^Content-Security-Policy: .*default-src 'none'" "$p CSP"
  expect_header "^Content-Security-Policy: .*script-src 'self';" "$p CSP scripts"
  expect_header "^Content-Security-Policy: .*frame-ancestors 'none'" "$p frame-ancestors"
  expect_header "^X-Content-Type-Options: nosniff" "$p nosniff"
done
req GET /dashboard; expect_header "^Content-Type: text/html" "page type"
expect_no_body "<script>" "no inline script"
req GET /dashboard/app.js; expect_header "^Content-Type: text/javascript" "js type"
req GET /dashboard/nope.js; expect_code 404 "unknown asset"
req POST /dashboard; expect_code 405 "POST dashboard"

stop
finish
