#!/usr/bin/env bash
# admin_http.sh - end-to-end tests of the admin HTTP API with curl against
# admin_harness (the admin module alone, fake server hooks): every endpoint
# and status code, auth with a generated, a configured and an environment
# token, pagination, invalidation, config changes, body limit, malformed
# JSON, timeouts, and `promtool check metrics` on the live output.
# Usage: admin_http.sh path/to/admin_harness
set -u
HARNESS=$1
. "$(dirname "$0")/admin_lib.sh"
HPID=

start() { # harness options...; sets PORT and HPID
  PORT=
  # Empty the file first: the background child truncates it only once it
  # runs, and until then the loop below could read the previous session's
  # port (a stopped harness: every request then fails with code 000).
  : >"$TMP/out"
  "$HARNESS" --port 0 "$@" >"$TMP/out" 2>"$TMP/err" &
  HPID=$!
  local deadline=$((SECONDS + HTTP_MAX_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    PORT=$(sed -n 's/^PORT=//p' "$TMP/out")
    [ -n "$PORT" ] && return 0
    kill -0 "$HPID" 2>/dev/null || break
    sleep 0.02
  done
  fail "harness did not start ($*): $(cat "$TMP/err")"
  return 1
}
# stop: SIGTERM, then the harness must exit 0 with no sanitizer report.
stop() {
  [ -n "$HPID" ] || return 0
  kill "$HPID" 2>/dev/null; wait "$HPID"; local st=$?; HPID=
  if [ "$st" -ne 0 ] || grep -qE 'Sanitizer|runtime error' "$TMP/err"; then
    fail "harness exit status $st: $(cat "$TMP/err")"
  fi
}
trap 'stop; rm -rf "$TMP"' EXIT

ALLKEYS=2511 # --fill 2500 --specials: 2500 + 5 model:v3 + 3 model:v2 + 3 others

# ---------------------------------------------------------------- session 1
# Generated token at the XDG default path; 2511 keys, no item limit.
mkdir -p "$TMP/xdg"
export XDG_RUNTIME_DIR="$TMP/xdg"
start --fill 2500 --specials --max-items 0 || exit 1
TF="$TMP/xdg/rcached-$PORT.token"
if [ -f "$TF" ]; then ok; else fail "token file $TF not created"; fi
TOKEN=$(cat "$TF")
expect_eq "${#TOKEN}" 64 "generated token is 32 bytes of hex"
expect_eq "$(stat -c %a "$TF")" 600 "token file mode"
if grep -qF "$TF" "$TMP/err"; then ok; else fail "token path not printed: $(cat "$TMP/err")"; fi
if grep -qF "$TOKEN" "$TMP/err" "$TMP/out"; then fail "token printed"; else ok; fi

# /healthz: open, JSON.
req GET /healthz
expect_code 200 healthz; expect_body '{"status":"ok"}' healthz
expect_header '^Content-Type: application/json; charset=utf-8' "healthz content type"
req HEAD /healthz
expect_code 200 "HEAD healthz"

# Auth: missing 401 (+ WWW-Authenticate), other scheme 401, wrong 403.
for p in /api/cache/stats /api/cache/config /api/cache/entries /api/performance/metrics \
         /api/performance/cache-stats /api/cache/entries/key:000001 /api/nothing; do
  req GET "$p"
  expect_code 401 "no token $p"
  expect_header '^WWW-Authenticate: Bearer realm="rcached"' "401 challenge $p"
  req GET "$p" -H "Authorization: Bearer wrong-token"
  expect_code 403 "wrong token $p"
done
req GET /api/cache/stats -H "Authorization: Basic dXNlcjpwYXNz"
expect_code 401 "basic auth is not a bearer token"
req GET /api/cache/stats -H "Authorization: Bearer ${TOKEN}x"
expect_code 403 "token with a suffix"
req GET /api/cache/stats -H "Authorization: Bearer ${TOKEN:0:63}"
expect_code 403 "token prefix"
for p in /api/cache/clear /api/cache/invalidate /api/performance/cache-clear \
         /api/performance/cache-invalidate; do
  req POST "$p" -d '{"pattern":"*"}'
  expect_code 401 "no token POST $p"
done
req DELETE /api/cache/entries/key:000001
expect_code 401 "no token DELETE entry"
areq GET /api/cache/stats
expect_json current_items $ALLKEYS "nothing changed without the token"

# Stats.
areq GET /api/cache/stats
expect_code 200 stats
expect_header '^Content-Type: application/json; charset=utf-8' "stats content type"
expect_body '"status":"success","cache_enabled":true,"stats":{' "stats envelope"
for f in hits misses hit_rate_percent evictions current_items current_memory_mb max_items \
         max_memory_mb memory_utilization_percent evictions_items evictions_bytes expirations \
         peak_memory_bytes sets deletes uptime_seconds compute_saved_seconds computations \
         singleflight_dedup; do
  expect_body "\"$f\":" "stats field $f"
done
expect_json max_items null "unbounded max_items is null"
expect_json sets $ALLKEYS "sets counted"
areq GET /api/performance/cache-stats
expect_code 200 "performance cache-stats"
expect_json current_items $ALLKEYS "performance cache-stats items"

# Metrics: open, text format, promtool.
req GET /metrics
expect_code 200 metrics
expect_header '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "metrics content type"
expect_body "rcache_items $ALLKEYS" "metrics items gauge"
expect_body 'rcache_commands_total{command="get"} 10' "metrics commands by name"
expect_body 'rcache_evictions_total{cause="max_items"} 0' "metrics evictions by cause"
expect_body 'rcache_connections_total 7' "metrics connections"
if command -v promtool >/dev/null; then
  if promtool check metrics <"$TMP/b" >"$TMP/promtool" 2>&1; then ok
  else fail "promtool check metrics: $(cat "$TMP/promtool")"; fi
else
  echo "SKIP: promtool not installed (Debian package prometheus)" >&2
fi

# Pagination: every entry exactly once.
cursor=0; pages=0; : >"$TMP/keys"
while :; do
  areq GET "/api/cache/entries?cursor=$cursor&count=200"
  [ "$CODE" = 200 ] || { fail "entries page: $CODE $BODY"; break; }
  grep -o '"key":"[^"]*"' "$TMP/b" >>"$TMP/keys"
  cursor=$(jfield next_cursor); pages=$((pages + 1))
  [ "$cursor" = 0 ] && break
  [ "$pages" -gt 1000 ] && { fail "pagination does not end"; break; }
done
expect_eq "$(wc -l <"$TMP/keys")" $ALLKEYS "entries listed over all pages"
expect_eq "$(sort -u "$TMP/keys" | wc -l)" $ALLKEYS "distinct entries over all pages"
expect_eq "$(grep -c '"key":"key:' "$TMP/keys")" 2500 "filled keys all listed"
areq GET "/api/cache/entries?count=5000"
expect_code 200 "entries count over the cap"
n=$(grep -o '"key":' "$TMP/b" | wc -l)
# capped at 1000 examined; a page ends on a bucket boundary, and a bucket
# of the index holds up to 8 entries (more with an overflow chain): "a few
# more" than the count, as docs/ADMIN.md says, never the 5000 asked for
if [ "$n" -le 1064 ]; then ok; else fail "count not capped: $n entries"; fi
areq GET "/api/cache/entries?count=20"
expect_body '"ttl_seconds":null' "entry without ttl"
for f in key key_encoding size_bytes created_at age_seconds last_access_at access_count \
         ttl_seconds expired compute_seconds next_cursor; do
  expect_body "\"$f\":" "entries field $f"
done
for q in "count=0" "count=abc" "cursor=xyz" "cursor=-1" "match=%5B" "match=%zz"; do
  areq GET "/api/cache/entries?$q"
  expect_code 400 "entries ?$q"
done
# match: across all pages, exactly the 5 model:v3 keys.
cursor=0; : >"$TMP/mkeys"
while :; do
  areq GET "/api/cache/entries?cursor=$cursor&count=300&match=model:v3:*"
  grep -o '"key":"[^"]*"' "$TMP/b" >>"$TMP/mkeys"
  cursor=$(jfield next_cursor)
  [ "$cursor" = 0 ] || [ -z "$cursor" ] && break
done
expect_eq "$(sort -u "$TMP/mkeys" | wc -l)" 5 "match=model:v3:*"
# Binary key listed in base64, fetched back with ?encoding=base64.
areq GET "/api/cache/entries?count=5000&match=*bin"
expect_body '"key":"/wBiaW4=","key_encoding":"base64"' "binary key as base64"
areq GET "/api/cache/entries/%2FwBiaW4%3D?encoding=base64"
expect_code 200 "entry by base64 key"
expect_body '"key_encoding":"base64"' "entry by base64 key"
areq GET "/api/cache/entries/!!!?encoding=base64"
expect_code 400 "bad base64 key"

# One entry.
areq GET /api/cache/entries/key:000042
expect_code 200 "entry"
expect_body '"key":"key:000042"' "entry key"
expect_json value_bytes 8 "entry value size (value-42)"
areq GET "/api/cache/entries/a%2Fb%20c+d"
expect_code 200 "entry with an encoded slash and space"
expect_body '"key":"a/b c+d"' "decoded key"
areq GET /api/cache/entries/ttl:key
expect_code 200 "entry with ttl"
t=$(jfield ttl_seconds)
case "$t" in null|"") fail "ttl_seconds should be a number: $BODY";; *) ok;; esac
areq GET /api/cache/entries/no-such-key
expect_code 404 "missing entry"
expect_body '"status":"error"' "404 is JSON"
areq GET /api/cache/entries/%zz
expect_code 400 "bad percent-encoding"
areq DELETE /api/cache/entries/key:000042
expect_code 200 "delete entry"
expect_body '"deleted":true' "delete entry"
areq DELETE /api/cache/entries/key:000042
expect_code 404 "delete again"
areq GET /api/cache/entries/key:000042
expect_code 404 "deleted entry is gone"

# Invalidate.
areq POST /api/cache/invalidate -d '{"pattern":"model:v3:*"}'
expect_code 200 invalidate; expect_json removed 5 "invalidate model:v3:*"
areq POST /api/cache/invalidate -d '{"pattern":"model:v3:*"}'
expect_json removed 0 "invalidate again"
areq POST /api/cache/invalidate -d '{"pattern":"model:["}'
expect_code 400 "invalid pattern"; expect_json field pattern "invalid pattern names the field"
areq POST /api/cache/invalidate -d '{"patern":"x"}'
expect_code 400 "missing pattern"
areq POST /api/cache/invalidate -d '{"pattern":5}'
expect_code 400 "pattern not a string"
areq POST /api/cache/invalidate -d '{"pattern": "x",'
expect_code 400 "malformed JSON"
expect_body '"line":1' "malformed JSON line"; expect_body '"column":' "malformed JSON column"
expect_body '"position":' "malformed JSON position"
areq POST /api/cache/invalidate -d '[1,2]'
expect_code 400 "array body"
# Tags (issue 14): the model:v2 keys carry img:42 and v2.
areq GET /api/cache/entries/model:v2:1
expect_code 200 "tagged entry"; expect_body '"tags":["img:42","v2"]' "entry lists its tags"
expect_body '"tags_encoding":"utf-8"' "tags encoding"
areq GET /api/cache/entries/ttl:key
expect_body '"tags":[]' "untagged entry: empty tags"
areq GET '/api/cache/entries?match=model:v2:*'
expect_body '"tags":["img:42","v2"]' "listing shows tags"
areq GET /metrics
expect_body 'rcache_tags 2' "metrics: distinct tags"
expect_body 'rcache_tagged_entries 3' "metrics: tagged entries"
areq POST /api/cache/invalidate -d '{"tag":"img:42"}'
expect_code 200 "invalidate tag"; expect_json removed 3 "invalidate tag count"
expect_body '"tag":"img:42"' "invalidate tag echoes the tag"
areq POST /api/cache/invalidate -d '{"tag":"img:42"}'
expect_json removed 0 "invalidate tag again"
areq GET /api/cache/entries/model:v2:1
expect_code 404 "tagged entry gone"
areq POST /api/cache/invalidate -d '{"tag":""}'
expect_code 400 "empty tag"; expect_json field tag "empty tag names the field"
areq POST /api/cache/invalidate -d '{"tag":7}'
expect_code 400 "tag not a string"
areq POST /api/cache/invalidate -d '{"tag":"a","pattern":"*"}'
expect_code 400 "tag and pattern together"
areq GET /metrics
expect_body 'rcache_tag_invalidations_total 2' "metrics: tag invalidations"
expect_body 'rcache_tag_invalidated_total 3' "metrics: entries removed by tag"
areq POST /api/performance/cache-invalidate -d '{"pattern":"model:v2:*"}'
expect_code 200 "performance invalidate"; expect_json removed 0 "performance invalidate count"

# Performance metrics.
areq GET /api/performance/metrics
expect_code 200 "performance metrics"
for f in uptime_seconds rss_bytes cpu_seconds connected_clients total_connections \
         total_commands commands_per_second; do
  expect_body "\"$f\":" "performance metrics $f"
done
rss=$(jfield rss_bytes)
if [ "${rss:-0}" -gt 0 ]; then ok; else fail "rss_bytes not filled: $BODY"; fi

# Config.
areq GET /api/cache/config
expect_code 200 "get config"
expect_body '"max_size":null' "unbounded max_size"
expect_json default_ttl_seconds 86400.0 "default ttl"
areq POST /api/cache/config -d '{"default_ttl_seconds": 3600}'
expect_code 200 "set ttl"; expect_json default_ttl_seconds 3600.0 "ttl applied"
expect_json max_memory_mb 512.0 "partial update keeps max_memory_mb"
areq POST /api/cache/config -d '{"max_memory_mb": 1024}'
expect_json max_memory_mb 1024.0 "max_memory_mb applied"; expect_json default_ttl_seconds 3600.0 "ttl kept"
areq POST /api/cache/config -d '{"max_size": 2000, "bogus": 1}'
expect_code 400 "unknown field"; expect_json field bogus "unknown field named"
areq POST /api/cache/config -d '{"max_size": "2000"}'
expect_code 400 "ill-typed field"; expect_json field max_size "ill-typed field named"
areq POST /api/cache/config -d '{"max_size": 1.5}'
expect_code 400 "real max_size"
areq POST /api/cache/config -d '{"max_size": -5}'
expect_code 422 "negative max_size"; expect_json field max_size "422 names the field"
areq POST /api/cache/config -d '{"max_memory_mb": 1e300}'
expect_code 422 "huge max_memory_mb"
areq POST /api/cache/config -d '{"default_ttl_seconds": -1}'
expect_code 422 "negative ttl"
areq POST /api/cache/config -d '{"max_size": 1,}'
expect_code 400 "malformed config"; expect_body '"position":' "config error position"
areq POST /api/cache/config -d '{"max_size": 1, "max_size": 2}'
expect_code 400 "duplicate field"
areq GET /api/cache/stats
expect_json current_items $((ALLKEYS - 1 - 5 - 3)) "refused updates changed nothing"
areq POST /api/cache/config -d '{"max_size": 10}'
expect_code 200 "shrink max_size"; expect_json max_size 10 "max_size applied"
areq GET /api/cache/stats
expect_json current_items 10 "shrinking evicts at once"
expect_json max_items 10 "stats max_items"
areq GET "/api/cache/entries?count=1000"
expect_eq "$(grep -o '"key":' "$TMP/b" | wc -l)" 10 "entries after shrink"
areq POST /api/cache/config -d '{"cache_enabled": false}'
expect_json cache_enabled false "disable"
areq GET /api/cache/stats
expect_body '"cache_enabled":false' "stats shows disabled"
areq POST /api/cache/config -d '{"cache_enabled": true, "max_size": null}'
expect_json cache_enabled true "enable"; expect_body '"max_size":null' "max_size back to unbounded"

# Clear.
areq POST /api/cache/clear
expect_code 200 clear; expect_json removed 10 "clear removed"
areq POST /api/performance/cache-clear
expect_code 200 "performance clear"; expect_json removed 0 "nothing left"
areq GET /api/cache/stats
expect_json current_items 0 "empty after clear"

# Methods and paths.
areq PUT /api/cache/stats
expect_code 405 "PUT stats"; expect_header '^Allow: GET, HEAD' "Allow on stats"
areq GET /api/cache/clear
expect_code 405 "GET clear"; expect_header '^Allow: POST' "Allow on clear"
areq DELETE /api/cache/config
expect_code 405 "DELETE config"; expect_header '^Allow: GET, HEAD, POST' "Allow on config"
areq POST /api/cache/entries/x
expect_code 405 "POST entry"; expect_header '^Allow: GET, HEAD, DELETE' "Allow on entry"
req POST /healthz
expect_code 405 "POST healthz"
areq GET /api/nothing
expect_code 404 "unknown api path"; expect_body '"status":"error"' "404 JSON"
req GET /nothing
expect_code 404 "unknown path"
expect_header '^Content-Type: application/json' "404 content type"

# Body cap (default 1 MiB).
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$TMP/big"
areq POST /api/cache/invalidate --data-binary @"$TMP/big"
expect_code 413 "body over 1 MiB"
areq GET /api/cache/stats
expect_code 200 "still serving after 413"
stop
if [ -e "$TF" ]; then fail "token file left after stop"; else ok; fi

# ---------------------------------------------------------------- session 2
# Configured token, /metrics behind it, small body cap, a 5 s timeout (short
# enough to see a slow client dropped, long enough for curl on a loaded machine).
rm -f "$TMP"/xdg/*
start --token s3cr3t-token --metrics-auth --max-body 1000 --timeout 5 || exit 1
TOKEN=s3cr3t-token
expect_eq "$(ls "$TMP/xdg" | wc -l)" 0 "no token file with a configured token"
req GET /metrics
expect_code 401 "metrics behind the token"
areq GET /metrics
expect_code 200 "metrics with the token"
req GET /healthz
expect_code 200 "healthz stays open"
head -c 1001 /dev/zero | tr '\0' ' ' >"$TMP/b1001"
areq POST /api/cache/config --data-binary @"$TMP/b1001"
expect_code 413 "body over --max-body"
head -c 990 /dev/zero | tr '\0' ' ' >"$TMP/b990"; echo '{}' >>"$TMP/b990"
areq POST /api/cache/config --data-binary @"$TMP/b990"
expect_code 200 "body under --max-body"
# A half-open client (partial request line) is dropped after the timeout:
# the server closes it (cat ends) long before our own deadline, which is
# generous so a loaded machine cannot fail it (no time is asserted).
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x' >&3
timeout "$HTTP_MAX_S" cat <&3 >/dev/null; rc=$?
exec 3<&-
if [ "$rc" -ne 124 ]; then ok; else fail "slow client not dropped within ${HTTP_MAX_S} s"; fi
req GET /healthz
expect_code 200 "serving after a slow client"
stop

# ---------------------------------------------------------------- session 3
# Token from the environment; default /tmp path when XDG_RUNTIME_DIR is unset.
RCACHED_ADMIN_TOKEN=env-token start || exit 1
TOKEN=env-token
areq GET /api/cache/stats
expect_code 200 "token from RCACHED_ADMIN_TOKEN"
stop
unset XDG_RUNTIME_DIR
start || exit 1
TF="/tmp/rcached-$(id -u)-$PORT.token"
if [ -f "$TF" ]; then ok; else fail "default /tmp token file $TF missing"; fi
TOKEN=$(cat "$TF" 2>/dev/null)
areq GET /api/cache/stats
expect_code 200 "token from the default /tmp file"
stop
if [ -e "$TF" ]; then fail "default token file left"; else ok; fi

# Token file safety: a symlink is refused; a stale file of ours is replaced.
ln -s "$TMP/elsewhere" "$TMP/link.token"
"$HARNESS" --port 0 --token-file "$TMP/link.token" >"$TMP/out" 2>"$TMP/err"
if [ $? -ne 0 ] && [ ! -e "$TMP/elsewhere" ]; then ok; else fail "symlinked token file accepted"; fi
echo stale >"$TMP/stale.token"; chmod 644 "$TMP/stale.token"
start --token-file "$TMP/stale.token" || exit 1
TOKEN=$(cat "$TMP/stale.token")
expect_eq "$(stat -c %a "$TMP/stale.token")" 600 "replaced token file mode"
areq GET /api/cache/stats
expect_code 200 "token from the replaced file"
stop

finish
