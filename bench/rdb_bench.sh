#!/usr/bin/env bash
# rdb_bench.sh [KEYS] [VALUE_BYTES] - snapshot load and save, rcached side by
# side with redis-server 7.0 on the same RDB file, same run (issue 12).
#
# 1. redis-server is filled over RESP (redis-cli --pipe) with KEYS keys of
#    14 bytes ("key:" + 10 digits) and VALUE_BYTES random printable bytes,
#    and SAVEs its own dump.rdb.
# 2. Load: redis-server and rcached are each started on a copy of that file;
#    the seconds come from their own "DB loaded from disk: X seconds" lines.
# 3. Save: SAVE on each (round trip measured here); MB/s = file size / s.
# Prints one table. Needs redis-server, redis-cli, python3, build/ built.
# RCACHED_OLD=path: also load the same file with that (older) rcached, after
# the others, and print its load ratio (before/after figures, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
vbytes=${2:-100}
bin=${RCACHED_BIN:-build/src/server/rcached}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdb-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 6000); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done; return 1; }
now_ns() { date +%s%N; }

python3 - "$keys" "$vbytes" >"$tmp/fill.resp" <<'PY'
import os, random, sys
n, vb = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(12)
alpha = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
pool = bytes(rnd.choice(alpha) for _ in range(1 << 16))
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%010d" % i
    o = (i * 7919) % (len(pool) - vb)
    v = pool[o:o + vb]
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY

mkdir -p "$tmp/redis" "$tmp/rcached"
rp=$(port)
redis-server --port "$rp" --dir "$tmp/redis" --save "" --appendonly no --logfile "$tmp/redis/fill.log" &
pids+=($!)
wait_up "$rp"
redis-cli -p "$rp" --pipe <"$tmp/fill.resp" >/dev/null
redis-cli -p "$rp" save >/dev/null
redis-cli -p "$rp" shutdown nosave >/dev/null 2>&1 || true
wait "${pids[-1]}" 2>/dev/null || true
file_bytes=$(stat -c %s "$tmp/redis/dump.rdb")
cp "$tmp/redis/dump.rdb" "$tmp/rcached/dump.rdb"

# Load, then SAVE, on each server.
rp=$(port)
redis-server --port "$rp" --dir "$tmp/redis" --save "" --appendonly no --logfile "$tmp/redis/load.log" &
pids+=($!)
wait_up "$rp"
redis_load=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$tmp/redis/load.log" | tail -1)
t0=$(now_ns); redis-cli -p "$rp" save >/dev/null; t1=$(now_ns)
redis_save=$(python3 -c "print(($t1-$t0)/1e9)")
redis-cli -p "$rp" shutdown nosave >/dev/null 2>&1 || true

cp_=$(port)
"$bin" --port "$cp_" --admin-port 0 --maxmemory 0 --dir "$tmp/rcached" --save "" \
  --snapshot-on-shutdown no --logfile "$tmp/rcached/load.log" &
pids+=($!)
wait_up "$cp_"
rc_load=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$tmp/rcached/load.log" | tail -1)
rc_keys=$(redis-cli -p "$cp_" dbsize)
t0=$(now_ns); redis-cli -p "$cp_" save >/dev/null; t1=$(now_ns)
rc_save=$(python3 -c "print(($t1-$t0)/1e9)")
rc_file=$(stat -c %s "$tmp/rcached/dump.rdb")
redis-cli -p "$cp_" shutdown nosave >/dev/null 2>&1 || true

old_load=0
if [ -n "${RCACHED_OLD:-}" ]; then
  mkdir -p "$tmp/old"
  cp "$tmp/redis/dump.rdb" "$tmp/old/dump.rdb"
  op=$(port)
  "$RCACHED_OLD" --port "$op" --admin-port 0 --maxmemory 0 --dir "$tmp/old" --save "" \
    --snapshot-on-shutdown no --logfile "$tmp/old/load.log" &
  pids+=($!)
  wait_up "$op"
  old_load=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$tmp/old/load.log" | tail -1)
  redis-cli -p "$op" shutdown nosave >/dev/null 2>&1 || true
fi

python3 - "$keys" "$vbytes" "$file_bytes" "$redis_load" "$rc_load" "$redis_save" "$rc_save" "$rc_keys" "$rc_file" "$old_load" <<'PY'
import sys
n, vb, fb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rl, cl, rs, cs = map(float, sys.argv[4:8])
ck, cf = int(sys.argv[8]), int(sys.argv[9])
ol = float(sys.argv[10])
print(f"keys {n}, values {vb} B, redis dump {fb/1e6:.1f} MB; rcached loaded {ck} keys, its dump {cf/1e6:.1f} MB")
print(f"{'':14}{'load s':>9}{'load keys/s':>14}{'SAVE s':>9}{'SAVE MB/s':>11}")
print(f"{'redis-server':14}{rl:9.3f}{n/rl:14.0f}{rs:9.3f}{fb/1e6/rs:11.1f}")
print(f"{'rcached':14}{cl:9.3f}{n/cl:14.0f}{cs:9.3f}{cf/1e6/cs:11.1f}")
print(f"ratio rcached/redis: load {rl/cl:.2f}x, save {(cf/cs)/(fb/rs):.2f}x")
if ol > 0:
    print(f"{'old rcached':14}{ol:9.3f}{n/ol:14.0f}   load ratio old/redis {rl/ol:.2f}x, new/old {ol/cl:.2f}x")
PY
