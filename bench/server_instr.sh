#!/usr/bin/env bash
# server_instr.sh - rcached's own (user-space) instructions per request,
# counted by callgrind: deterministic where CPU time on a shared 2-core
# machine is not, so an old-vs-new change of a few per cent in rcached's
# code shows (issue 16). It does not see the kernel's share (most of a
# request's cost: BENCHMARKS.md), so it complements bench/server_cpu.sh.
#
# For each rcached binary given, and each workload: start it under
# `valgrind --tool=callgrind` (admin API off, no limits), warm up with
# 5,000 requests, zero the counters (callgrind_control -z), run
# redis-benchmark, dump (callgrind_control -d) and print the dump's total
# instructions (Ir) divided by the requests.
#
# usage: bench/server_instr.sh [-n REQUESTS] BIN [BIN...]
#   -n  requests per workload (default 30000; -P 16 runs 3x as many)
# Workloads: GET -c 50 -P 16 and SET -c 50 -P 1 (100-byte values,
# -r 100000). Environment: REDIS_BENCHMARK, REDIS_CLI override the
# programs. Exit status: 0, 1 when a step failed, 2 for bad usage.
# Every server it started is stopped by PID on exit.
set -u

n=30000
if [ "${1:-}" = -n ]; then n=$2; shift 2; fi
case ${1:-} in ''|-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;; esac
redis_benchmark=${REDIS_BENCHMARK:-redis-benchmark}
redis_cli=${REDIS_CLI:-redis-cli}
for p in valgrind callgrind_control callgrind_annotate "$redis_benchmark" "$redis_cli"; do
  command -v "$p" >/dev/null 2>&1 || { echo "server_instr.sh: $p not found" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/rcache-server-instr.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

eph_lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "${eph_lo:-0}" -gt 12000 ] || eph_lo=32768
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (eph_lo - 10000)))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return 0; fi
  done
  return 1
}

failed=0
# one BIN, one workload: prints "Ir/request"
measure() {
  local bin test=$2 pipe=$3 count=$4 port f ir
  bin=$(readlink -f "$1")
  port=$(free_port) || return 1
  (cd "$tmp" && exec valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
     "$bin" --port "$port" --bind 127.0.0.1 --admin-port 0 --maxmemory 0 --max-items 0 \
     --loglevel warning) >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    "$redis_cli" -p "$port" PING >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! "$redis_cli" -p "$port" PING >/dev/null 2>&1; then
    echo "server_instr.sh: $bin did not start; its log:" >&2
    cat "$tmp/server.log" >&2
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
    return 1
  fi
  timeout 600 "$redis_benchmark" -p "$port" -t "$test" -r 100000 -d 100 -c 50 -P "$pipe" -n 5000 -q >/dev/null 2>&1
  (cd "$tmp" && callgrind_control -z "$pid" >/dev/null 2>&1)
  timeout 1200 "$redis_benchmark" -p "$port" -t "$test" -r 100000 -d 100 -c 50 -P "$pipe" -n "$count" -q >/dev/null 2>&1 ||
    { kill "$pid"; wait "$pid" 2>/dev/null; pid=; return 1; }
  (cd "$tmp" && callgrind_control -d "$pid" >/dev/null 2>&1)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
  f=$(find "$tmp" -name 'cg.*.*' | head -1)
  [ -n "$f" ] || return 1
  ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  rm -f "$tmp"/cg.*
  [ -n "$ir" ] || return 1
  awk -v a="$ir" -v b="$count" 'BEGIN { printf "%.0f\n", a / b }'
}

printf '| rcached | GET -c 50 -P 16 Ir/request | SET -c 50 -P 1 Ir/request |\n|---|---:|---:|\n'
for bin in "$@"; do
  [ -x "$bin" ] || { echo "server_instr.sh: $bin is not an executable" >&2; failed=1; continue; }
  g=$(measure "$bin" get 16 $((n * 3))) || { echo "server_instr.sh: GET run failed for $bin" >&2; failed=1; }
  s=$(measure "$bin" set 1 "$n") || { echo "server_instr.sh: SET run failed for $bin" >&2; failed=1; }
  printf '| %s | %s | %s |\n' "$bin" "${g:--}" "${s:--}"
done
exit $failed
