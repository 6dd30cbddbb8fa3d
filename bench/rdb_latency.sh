#!/usr/bin/env bash
# rdb_latency.sh [KEYS] - GET latency of other clients while rcached runs a
# BGSAVE (issue 12): rcached is filled with KEYS keys (14-byte keys, 100-byte
# values), then redis-benchmark -P 16 GET runs twice over the same keys,
# once alone and once with BGSAVEs started back to back meanwhile; prints
# redis-benchmark's latency summary (p50/p95/p99) for both.
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
bin=${RCACHED_BIN:-build/src/server/rcached}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdb-lat.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --port "$port" --admin-port 0 --maxmemory 0 --dir "$tmp" --save "" \
  --snapshot-on-shutdown no --logfile "$tmp/log" &
pid=$!
for _ in $(seq 1 600); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
redis-benchmark -p "$port" -t set -n "$keys" -r "$keys" -d 100 -P 64 -q >/dev/null
echo "keys: $(redis-cli -p "$port" dbsize)"
run() { redis-benchmark -p "$port" -t get -n 2000000 -r "$keys" -P 16 -c 50 2>/dev/null |
        sed -n '/latency summary/,/^$/p' | tail -3; }
echo "GET -P 16, no save:"; run
( for _ in $(seq 1 20); do
    redis-cli -p "$port" bgsave >/dev/null 2>&1 || true
    while [ "$(redis-cli -p "$port" info persistence | tr -d '\r' | sed -n 's/^rdb_bgsave_in_progress://p')" = 1 ]; do sleep 0.05; done
  done ) &
saver=$!
echo "GET -P 16, BGSAVE running:"; run
kill "$saver" 2>/dev/null || true
echo "saves done: $(redis-cli -p "$port" info persistence | tr -d '\r' | sed -n 's/^rdb_saves://p')"
