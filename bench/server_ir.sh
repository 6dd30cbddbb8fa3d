#!/usr/bin/env bash
# server_ir.sh - user-space instructions per request of Redis-protocol
# servers, counted by callgrind: a figure that machine load does not move,
# for changes whose effect is smaller than the run-to-run noise of
# server_cpu.sh's CPU time (issue 11's "a plain GET/SET's cost does not grow
# by more than 3%": rcached before and after a change, and redis-server as
# the anchor).
#
# Each server given runs under `valgrind --tool=callgrind` (all threads
# counted together); the counters are zeroed and dumped with
# callgrind_control around each workload, so start-up and the fill are not
# counted. Workloads (redis-benchmark, 100-byte values, -r 100000, -c 4 or
# --clients):
# SET and GET at -P 1 and -P 16, N requests each (after a SET fill). Kernel
# time (syscalls, the network stack) is not counted: compare with
# server_cpu.sh for that share.
#
# usage: bench/server_ir.sh [--n N] [--clients C] LABEL=PROGRAM [LABEL=PROGRAM ...]
#   PROGRAM is an rcached binary (started with --port P --admin-port 0) or
#   a redis-server binary (--port P --save "" --appendonly no).
#   --n N  requests per workload (default 20000)
#   --clients C  redis-benchmark connections (-c, default 4)
# Prints one line per server and workload, then each server's ratio to the
# first one. Exit 77 when valgrind or redis-benchmark is missing, 1 when a
# step failed, 2 for bad usage.
set -u
n=20000
clients=4
servers=()
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift ;;
    --clients) clients=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *=*) servers+=("$1") ;;
    *) echo "server_ir.sh: bad argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#servers[@]} -ge 1 ] || { echo "server_ir.sh: name at least one LABEL=PROGRAM" >&2; exit 2; }
for t in valgrind callgrind_control redis-benchmark redis-cli; do
  command -v "$t" >/dev/null || { echo "server_ir.sh: $t not installed" >&2; exit 77; }
done
tmp=$(mktemp -d)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

port=$((20000 + RANDOM % 8000))
workloads=("SET -P 1:-t set -P 1" "GET -P 1:-t get -P 1" "SET -P 16:-t set -P 16" "GET -P 16:-t get -P 16")
measure() { # measure DUMP ARGS...: instructions the server ran during
            # redis-benchmark ARGS (callgrind's dump number DUMP: the
            # function runs in a subshell, so the caller counts)
  local dump=$1; shift
  callgrind_control -z "$spid" >/dev/null 2>&1
  # shellcheck disable=SC2068
  redis-benchmark -p "$port" -n "$n" -c "$clients" -r 100000 -d 100 -q $@ >/dev/null 2>&1 || return 1
  callgrind_control -d "$spid" >/dev/null 2>&1
  for _ in $(seq 600); do [ -s "$tmp/cg.$spid.$dump" ] && break; sleep 0.1; done
  awk '/^totals:/ { print $2 }' "$tmp/cg.$spid.$dump"
}

: >"$tmp/results"
for s in "${servers[@]}"; do
  label=${s%%=*}; prog=${s#*=}
  case $(basename "$prog") in
    redis-server*) args=(--port "$port" --save "" --appendonly no) ;;
    *) args=(--port "$port" --admin-port 0) ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$prog" "${args[@]}" \
    >"$tmp/log.$label" 2>&1 &
  spid=$!
  for _ in $(seq 600); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" PING >/dev/null 2>&1 || { echo "server_ir.sh: $label did not start:"; tail -5 "$tmp/log.$label"; exit 1; }
  redis-benchmark -p "$port" -n 100000 -c 4 -r 100000 -d 100 -q -t set -P 16 >/dev/null 2>&1
  dump=0
  for w in "${workloads[@]}"; do
    dump=$((dump + 1))
    ir=$(measure "$dump" "${w#*:}") || { echo "server_ir.sh: $label: ${w%%:*} failed"; exit 1; }
    printf '%s\t%s\t%.0f\n' "$label" "${w%%:*}" "$(awk -v a="$ir" -v b="$n" 'BEGIN { print a / b }')" |
      tee -a "$tmp/results"
  done
  kill "$spid"; wait "$spid" 2>/dev/null; spid=
  port=$((port + 1))
done
echo
echo "instructions per request, ratio to ${servers[0]%%=*}:"
awk -F'\t' 'NR == FNR { if (!($2 in base)) base[$2] = $3; next }
  { printf "  %-10s %-10s %8.0f  %.4f\n", $1, $2, $3, $3 / base[$2] }' "$tmp/results" "$tmp/results"
