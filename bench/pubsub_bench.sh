#!/usr/bin/env bash
# pubsub_bench.sh - PUBLISH throughput of rcached and redis-server side by
# side, in one run, on this machine (issue 11).
#
# Each server gets S subscribers (redis-cli SUBSCRIBE, output read and
# thrown away) on channel "ch", then redis-benchmark sends PUBLISH ch
# <100-byte message> with -c 50 and -P 16. Reported per server: PUBLISH
# requests/s (each delivers to S subscribers), and the median over the
# rounds (the order of the two servers alternates). The ratio is what to
# read; absolute figures on a shared machine are not.
#
# usage: bench/pubsub_bench.sh [--build-dir DIR] [--rounds N] [--requests N]
#                              [--subscribers S]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
rounds=3
requests=200000
subs=4
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --requests) requests=$2; shift ;;
    --subscribers) subs=$2; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--rounds N] [--requests N] [--subscribers S]" >&2
       exit 2 ;;
  esac
  shift
done
rcached=${RCACHED:-$build/src/server/rcached}
[ -x "$rcached" ] || { echo "rcached not built: $rcached" >&2; exit 77; }
for p in redis-server redis-benchmark redis-cli; do
  command -v $p >/dev/null || { echo "$p missing" >&2; exit 77; }
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

rp=$(free_port); redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no \
  --loglevel warning >/dev/null & pids+=($!)
cp=$(free_port); "$rcached" --port "$cp" --admin-port 0 --loglevel warning & pids+=($!)
wait_up "$rp" && wait_up "$cp" || { echo "servers did not start" >&2; exit 1; }
for port in $rp $cp; do
  for _ in $(seq "$subs"); do
    redis-cli -p "$port" subscribe ch >/dev/null 2>&1 & pids+=($!)
  done
  for _ in $(seq 300); do
    n=$(redis-cli -p "$port" pubsub numsub ch | tail -1)
    [ "$n" = "$subs" ] && break
    sleep 0.05
  done
done

msg=$(head -c 100 /dev/zero | tr '\0' x)
run() { redis-benchmark -p "$1" -n "$requests" -c 50 -P 16 -q publish ch "$msg" 2>/dev/null |
        tr '\r' '\n' | grep 'requests per second' | tail -1 |
        sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r_all=(); c_all=()
for i in $(seq "$rounds"); do
  if [ $((i % 2)) -eq 1 ]; then r_all+=("$(run "$rp")"); c_all+=("$(run "$cp")");
  else c_all+=("$(run "$cp")"); r_all+=("$(run "$rp")"); fi
done
r=$(printf '%s\n' "${r_all[@]}" | median)
c=$(printf '%s\n' "${c_all[@]}" | median)
echo "| PUBLISH, $subs subscribers, -c 50 -P 16 | redis-server | rcached | ratio |"
echo "|---|---|---|---|"
awk -v r="$r" -v c="$c" 'BEGIN { printf "| requests/s (median of %d) | %.0f | %.0f | %.2f |\n", '"$rounds"', r, c, (r > 0 ? c / r : 0) }'
