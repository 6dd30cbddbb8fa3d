#!/usr/bin/env bash
# admin_rcached.sh - the admin HTTP API inside the real rcached: stats and
# /metrics move as redis-cli traffic hits and misses, config changes take
# effect at once (shrinking max_size evicts, seen both through HTTP entries
# and RESP DBSIZE), invalidation and deletes are visible over RESP, the
# generated token file appears and goes away with the server.
# Usage: admin_rcached.sh path/to/rcached
set -u
RCACHED=$1
. "$(dirname "$0")/admin_lib.sh"
SPID=
RPORT=
stop() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=; }
# shutdown: SIGTERM, then rcached must exit 0 with no sanitizer report.
shutdown() {
  kill "$SPID" 2>/dev/null; wait "$SPID"; local st=$?; SPID=
  if [ "$st" -ne 0 ] || grep -qE 'Sanitizer|runtime error' "$TMP/err"; then
    fail "rcached exit status $st: $(tail -n 30 "$TMP/err")"
  fi
}
trap 'stop; rm -rf "$TMP"' EXIT
command -v redis-cli >/dev/null || { echo "SKIP: redis-cli not installed"; exit 0; }
rc() { redis-cli -p "$RPORT" "$@"; }

# Start on random free ports (retry: other tests run beside us).
mkdir -p "$TMP/xdg"
export XDG_RUNTIME_DIR="$TMP/xdg"
for _ in $(seq 20); do
  RPORT=$((20000 + RANDOM % 40000)); PORT=$((RPORT + 1))
  "$RCACHED" --port "$RPORT" --admin-port "$PORT" --threads 2 --max-items 0 \
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

TF="$TMP/xdg/rcached-$PORT.token"
if grep -qF "$TF" "$TMP/err"; then ok; else fail "token path not printed: $(cat "$TMP/err")"; fi
TOKEN=$(cat "$TF" 2>/dev/null)
expect_eq "${#TOKEN}" 64 "generated token"
expect_eq "$(stat -c %a "$TF" 2>/dev/null)" 600 "token file mode"
if grep -qF "$TOKEN" "$TMP/err" "$TMP/out"; then fail "token logged"; else ok; fi

req GET /api/cache/stats
expect_code 401 "no token"
req GET /api/cache/stats -H "Authorization: Bearer nope"
expect_code 403 "wrong token"

# Stats move with RESP traffic.
areq GET /api/cache/stats
h0=$(jfield hits); m0=$(jfield misses); s0=$(jfield sets)
for i in $(seq 1 20); do echo "SET k$i value$i"; done | rc >/dev/null
for _ in 1 2 3; do rc GET k1 >/dev/null; done
rc GET nosuch1 >/dev/null; rc GET nosuch2 >/dev/null
areq GET /api/cache/stats
expect_code 200 stats
expect_json hits $((h0 + 3)) "hits after 3 RESP hits"
expect_json misses $((m0 + 2)) "misses after 2 RESP misses"
expect_json sets $((s0 + 20)) "sets after 20 RESP SETs"
expect_json current_items 20 "items after SETs"
expect_json hit_rate_percent "$(awk -v h=$((h0 + 3)) -v m=$((m0 + 2)) \
  'BEGIN { v = int(100 * h / (h + m) * 100 + 0.5) / 100; if (v == int(v)) printf "%.1f", v; else print v }')" \
  "hit rate"

req GET /metrics
expect_code 200 metrics
expect_body "rcache_hits_total $((h0 + 3))" "metrics hits"
expect_body 'rcache_commands_total{command="get"} 5' "metrics GET count"
expect_body 'rcache_commands_total{command="set"} 20' "metrics SET count"
expect_body 'rcache_items 20' "metrics items"
expect_body 'rcache_db_keys{db="0"} 20' "metrics db 0 keys (library counters)"
expect_body 'rcache_db_expires{db="0"} 0' "metrics db 0 expires"
if command -v promtool >/dev/null; then
  if promtool check metrics <"$TMP/b" >"$TMP/promtool" 2>&1; then ok
  else fail "promtool check metrics: $(cat "$TMP/promtool")"; fi
fi
areq GET /api/performance/metrics
expect_code 200 "performance metrics"
n=$(jfield total_commands)
if [ "${n:-0}" -ge 25 ]; then ok; else fail "total_commands $n < 25"; fi
n=$(jfield total_connections)
if [ "${n:-0}" -ge 1 ]; then ok; else fail "total_connections $n"; fi

# Entry metadata of RESP-written keys.
rc SET ttlkey 0123456789 EX 100 >/dev/null
areq GET /api/cache/entries/ttlkey
expect_code 200 "entry written over RESP"
expect_json value_bytes 10 "value size"
t=$(jfield ttl_seconds); t=${t%%.*}
if [ "${t:-0}" -ge 98 ] && [ "${t:-0}" -le 100 ]; then ok; else fail "ttl_seconds $t"; fi
areq DELETE /api/cache/entries/ttlkey
expect_code 200 "delete over HTTP"
expect_eq "$(rc EXISTS ttlkey)" 0 "deleted key gone over RESP"

# Shrinking max_size evicts at once: HTTP entries and RESP DBSIZE agree.
expect_eq "$(rc DBSIZE)" 20 "DBSIZE before shrink"
areq POST /api/cache/config -d '{"max_size": 5}'
expect_code 200 "shrink"; expect_json max_size 5 "max_size applied"
expect_eq "$(rc DBSIZE)" 5 "DBSIZE right after shrink"
cursor=0; : >"$TMP/keys"
while :; do
  areq GET "/api/cache/entries?cursor=$cursor&count=3"
  grep -o '"key":"[^"]*"' "$TMP/b" >>"$TMP/keys"
  cursor=$(jfield next_cursor)
  [ "$cursor" = 0 ] || [ -z "$cursor" ] && break
done
expect_eq "$(sort -u "$TMP/keys" | wc -l)" 5 "entries after shrink"
expect_eq "$(wc -l <"$TMP/keys")" 5 "each entry once"
rc SET extra 1 >/dev/null
expect_eq "$(rc DBSIZE)" 5 "the limit holds for later SETs"
areq POST /api/cache/config -d '{"max_size": 0, "default_ttl_seconds": 50}'
expect_json max_size null "unbounded again"
rc SET withdefault v >/dev/null
t=$(rc PTTL withdefault)
if [ "$t" -gt 40000 ] && [ "$t" -le 50000 ]; then ok; else fail "default TTL not applied over RESP: PTTL $t"; fi

# Invalidate by pattern, seen over RESP.
for k in a b c; do rc SET "model:v3:$k" 1 >/dev/null; done
rc SET model:v2:a 1 >/dev/null
areq POST /api/cache/invalidate -d '{"pattern":"model:v3:*"}'
expect_code 200 invalidate; expect_json removed 3 "invalidate removed"
expect_eq "$(rc EXISTS model:v3:a model:v3:b model:v3:c)" 0 "invalidated keys gone"
expect_eq "$(rc EXISTS model:v2:a)" 1 "other keys kept"

# SELECT databases (?db=N): db 0 and db 3 hold the same names.
# list_keys QUERY: every key of a full scan into $TMP/keys (one per line).
list_keys() {
  local cursor=0; : >"$TMP/keys"
  while :; do
    areq GET "/api/cache/entries?cursor=$cursor&count=7$1"
    [ "$CODE" = 200 ] || { fail "listing $1: HTTP $CODE: $BODY"; return; }
    if grep -qF '"key_encoding":"base64"' "$TMP/b"; then fail "listing $1 shows a raw key: $BODY"; fi
    grep -o '"key":"[^"]*"' "$TMP/b" | cut -d'"' -f4 >>"$TMP/keys"
    cursor=$(jfield next_cursor)
    [ "$cursor" = 0 ] || [ -z "$cursor" ] && break
  done
}
rc SET dbk:a zero >/dev/null; rc SET dbk:b zero >/dev/null
rc -n 3 SET dbk:a three EX 1000 >/dev/null; rc -n 3 SET dbk:b three >/dev/null
rc -n 3 SET only3 xyz >/dev/null
n0=$(rc DBSIZE)
list_keys ""
expect_eq "$(wc -l <"$TMP/keys")" "$n0" "db 0 listing: DBSIZE keys"
if grep -qx only3 "$TMP/keys"; then fail "db 3 key in db 0's listing"; else ok; fi
expect_eq "$(grep -c '^dbk:' "$TMP/keys")" 2 "db 0 listing: its own dbk:* once each"
list_keys "&db=3"
expect_eq "$(sort "$TMP/keys" | tr '\n' ' ')" "dbk:a dbk:b only3 " "db 3 listing"
list_keys "&db=3&match=dbk:*"
expect_eq "$(sort "$TMP/keys" | tr '\n' ' ')" "dbk:a dbk:b " "db 3 listing with match"
areq GET "/api/cache/entries?db=3&count=100"
expect_json db 3 "listing names its db"
areq GET "/api/cache/entries/dbk:a?db=3"
expect_code 200 "db 3 entry"; expect_json value_bytes 5 "db 3 value"; expect_json key dbk:a "db 3 key shown bare"
t=$(jfield ttl_seconds); t=${t%%.*}
if [ "${t:-0}" -ge 990 ] && [ "${t:-0}" -le 1000 ]; then ok; else fail "db 3 ttl_seconds $t"; fi
areq GET "/api/cache/entries/dbk:a"
expect_code 200 "db 0 entry"; expect_json value_bytes 4 "db 0 value"
areq GET "/api/cache/entries/only3"
expect_code 404 "db 3 key not in db 0"
areq DELETE "/api/cache/entries/dbk:b?db=3"
expect_code 200 "db 3 delete"; expect_json key dbk:b "deleted key shown bare"
expect_eq "$(rc -n 3 EXISTS dbk:b)" 0 "db 3 key deleted"
expect_eq "$(rc EXISTS dbk:b)" 1 "db 0 key of the same name kept"
areq POST "/api/cache/invalidate?db=3" -d '{"pattern":"dbk:*"}'
expect_code 200 "db 3 invalidate"; expect_json removed 1 "db 3 invalidate removed"
expect_json db 3 "invalidate names its db"
expect_eq "$(rc -n 3 EXISTS dbk:a only3)" 1 "db 3: matched key gone, other kept"
expect_eq "$(rc EXISTS dbk:a dbk:b)" 2 "db 0 keys of the same names kept"
for q in "db=16" "db=abc" "db=-1" "db=1x" "db=99999999999999999999"; do
  areq GET "/api/cache/entries?$q"
  expect_code 400 "listing $q"; expect_body 'db must be a database number from 0 to 15' "listing $q says why"
  areq GET "/api/cache/entries/dbk:a?$q"; expect_code 400 "entry $q"
  areq DELETE "/api/cache/entries/dbk:a?$q"; expect_code 400 "delete $q"
  areq POST "/api/cache/invalidate?$q" -d '{"pattern":"*"}'; expect_code 400 "invalidate $q"
done
expect_eq "$(rc EXISTS dbk:a)" 1 "nothing removed by bad db requests"
areq POST "/api/cache/invalidate?db=3" -d '{"tag":"t"}'
expect_code 400 "tag invalidation with db"
# /metrics per db: the same figures as INFO keyspace.
rc -n 5 SET k5 v EX 500 >/dev/null
req GET /metrics
expect_code 200 "metrics with databases"
rc INFO keyspace | tr -d '\r' | grep '^db' >"$TMP/ks"
expect_eq "$(wc -l <"$TMP/ks")" 3 "INFO keyspace: dbs 0, 3, 5"
while IFS=: read -r d f; do
  n=${d#db}; k=$(echo "$f" | sed 's/keys=\([0-9]*\).*/\1/'); e=$(echo "$f" | sed 's/.*expires=\([0-9]*\).*/\1/')
  expect_body "rcache_db_keys{db=\"$n\"} $k" "metrics keys db $n"
  expect_body "rcache_db_expires{db=\"$n\"} $e" "metrics expires db $n"
done <"$TMP/ks"
expect_body 'rcache_db_keys{db="3"} 1' "metrics db 3 keys"
expect_body 'rcache_db_expires{db="5"} 1' "metrics db 5 expires"
expect_no_body 'rcache_db_keys{db="4"}' "no line for an empty db"
if command -v promtool >/dev/null; then
  if promtool check metrics <"$TMP/b" >"$TMP/promtool" 2>&1; then ok
  else fail "promtool check metrics (dbs): $(cat "$TMP/promtool")"; fi
fi
# Database 0's pattern invalidation stays in database 0 (a pattern starting
# with a wildcard used to remove other databases' keys too), and
# RCACHE.INVALIDATE applies within the client's database.
rc -n 3 SET dbw:x three >/dev/null; rc -n 5 SET dbw:y five >/dev/null; rc SET dbw:z zero >/dev/null
areq POST "/api/cache/invalidate" -d '{"pattern":"*w:*"}'
expect_code 200 "db 0 wildcard invalidate"; expect_json removed 1 "db 0 wildcard removed only db 0's"
expect_eq "$(rc EXISTS dbw:z)" 0 "db 0 key invalidated"
expect_eq "$(rc -n 3 EXISTS dbw:x)" 1 "db 3 key kept by db 0's invalidation"
expect_eq "$(rc -n 5 EXISTS dbw:y)" 1 "db 5 key kept by db 0's invalidation"
expect_eq "$(rc -n 3 RCACHE.INVALIDATE '*')" 2 "RCACHE.INVALIDATE in db 3 removes db 3's keys (only3 dbw:x)"
expect_eq "$(rc -n 3 DBSIZE)" 0 "db 3 empty"
expect_eq "$(rc -n 5 EXISTS dbw:y)" 1 "db 5 key kept by db 3's RCACHE.INVALIDATE"
expect_eq "$(rc EXISTS dbk:a dbk:b)" 2 "db 0 keys kept by db 3's RCACHE.INVALIDATE"
expect_eq "$(rc -n 5 FLUSHDB)" OK "FLUSHDB in db 5"
expect_eq "$(rc -n 5 DBSIZE)" 0 "db 5 empty after FLUSHDB"
expect_eq "$(rc EXISTS dbk:a dbk:b)" 2 "db 0 keys kept by db 5's FLUSHDB"

# Clear.
areq POST /api/cache/clear
expect_code 200 clear
expect_eq "$(rc DBSIZE)" 0 "DBSIZE after clear"

shutdown
if [ -e "$TF" ]; then fail "token file left after shutdown"; else ok; fi
finish
