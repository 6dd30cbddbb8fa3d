#!/usr/bin/env bash
# compare.sh - rcached side by side with redis-server and memcached, on this
# machine, in one run (issue 6).
#
#  1. memory: starts the three servers on free loopback ports, loads the same
#     N keys (14-byte keys, 100-byte values) into each with bench/loader.c
#     (RESP for redis-server and rcached, the text protocol for memcached),
#     and reads each process's RSS (/proc/PID/status VmRSS) and its own
#     figure (INFO used_memory; memcached `stats` bytes);
#  2. throughput: redis-benchmark -t set,get -n 1000000 -r 100000 -d 100
#     -c 50 with -P 1 and -P 16 against redis-server and rcached, alternating
#     which goes first, 3 rounds, medians;
#  3. prints one markdown table (figure, redis-server, memcached, rcached,
#     rcached's ratio to each).
# Every server it started is stopped by PID on exit.  Exit status: 0 when
# every step worked, 1 when one failed, 77 when rcached is not built (the
# test treats 77 as "skipped"), 2 for bad usage.
#
# usage: bench/compare.sh [--quick] [--build-dir DIR] [--rounds N] [--out FILE]
#   --quick      small counts (a few seconds; what the test runs)
#   --build-dir  where rcached and rcache-loader were built (default: build)
#   --out FILE   also write the table to FILE
#   --keys N     keys loaded for the memory figures (default 1000000)
#   --requests N redis-benchmark -n (default 1000000)
# Environment: RCACHED (path of rcached), REDIS_SERVER, MEMCACHED,
# REDIS_BENCHMARK, REDIS_CLI override the programs.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
quick=0
rounds=3
outfile=
opt_keys=
opt_requests=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --build-dir) build=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --out) outfile=$2; shift ;;
    --keys) opt_keys=$2; shift ;;
    --requests) opt_requests=$2; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ $quick = 1 ]; then
  keys=2000; bench_n=20000; bench_r=1000; bench_c=10; rounds=1
else
  keys=1000000; bench_n=1000000; bench_r=100000; bench_c=50
fi
keys=${opt_keys:-$keys}
bench_n=${opt_requests:-$bench_n}

rcached=${RCACHED:-$build/src/server/rcached}
redis_server=${REDIS_SERVER:-redis-server}
memcached=${MEMCACHED:-memcached}
redis_benchmark=${REDIS_BENCHMARK:-redis-benchmark}
redis_cli=${REDIS_CLI:-redis-cli}

if [ ! -x "$rcached" ]; then
  echo "compare.sh: rcached is not built ($rcached); skipping" >&2
  exit 77
fi
for p in "$redis_server" "$memcached" "$redis_benchmark" "$redis_cli"; do
  command -v "$p" >/dev/null 2>&1 || { echo "compare.sh: $p not found (scripts/deps.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/rcache-compare.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failed=0
step_fail() { echo "compare.sh: FAILED: $*" >&2; failed=1; }

loader=$build/bench/rcache-loader
if [ ! -x "$loader" ]; then
  loader=$tmp/rcache-loader
  cc -O2 -o "$loader" "$here/loader.c" || { echo "compare.sh: cannot build the loader" >&2; exit 1; }
fi

# A TCP port no socket uses now, in any state. Ports are taken below the
# kernel's ephemeral range: after a benchmark thousands of client ports sit
# in TIME_WAIT there, and a server that binds without SO_REUSEADDR would
# fail on them. (The server start below is checked, and retried on another
# port if it lost a race.)
eph_lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "${eph_lo:-0}" -gt 12000 ] || eph_lo=32768
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (eph_lo - 10000)))
    if command -v ss >/dev/null 2>&1; then
      [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
    fi
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return 0; fi
  done
  return 1
}

# wait_up PID PORT PING-COMMAND: until the port answers, or the process died.
wait_up() {
  local pid=$1 port=$2 i
  for i in $(seq 1 600); do # up to 30 s on a loaded machine
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# start NAME: starts one server on a free port; sets ${NAME}_pid/_port.
start() {
  local name=$1 try port pid
  for try in 1 2 3; do
    port=$(free_port) || break
    case $name in
      redis)
        "$redis_server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
          --protected-mode no --daemonize no --dir "$tmp" --logfile "$tmp/redis.log" &
        ;;
      memcached)
        local user=()
        [ "$(id -u)" = 0 ] && user=(-u root)
        "$memcached" -l 127.0.0.1 -p "$port" -U 0 -m 4096 "${user[@]}" >"$tmp/memcached.log" 2>&1 &
        ;;
      rcached)
        "$rcached" --port "$port" --bind 127.0.0.1 --admin-port 0 --maxmemory 0 \
          --max-items 0 --loglevel warning >"$tmp/rcached.log" 2>&1 &
        ;;
    esac
    pid=$!
    pids+=("$pid")
    if wait_up "$pid" "$port"; then
      eval "${name}_pid=$pid ${name}_port=$port"
      return 0
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  echo "compare.sh: cannot start $name (3 tries); its last log:" >&2
  cat "$tmp/$name.log" >&2 2>/dev/null
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
info_field() { "$redis_cli" -h 127.0.0.1 -p "$1" INFO "$2" 2>/dev/null | tr -d '\r' | awk -F: -v k="$3" '$1 == k {print $2}'; }
mc_stat() {
  local port=$1 key=$2
  exec 5<>/dev/tcp/127.0.0.1/$port || return 1
  printf 'stats\r\nquit\r\n' >&5
  tr -d '\r' <&5 | awk -v k="$key" '$1 == "STAT" && $2 == k {print $3}'
  exec 5>&-
}
dbsize() { "$redis_cli" -h 127.0.0.1 -p "$1" DBSIZE 2>/dev/null | tr -d '\r'; }

for s in redis memcached rcached; do
  start $s || { echo "compare.sh: FAILED: starting $s" >&2; exit 1; }
done
echo "compare.sh: redis-server pid $redis_pid port $redis_port; memcached pid $memcached_pid" \
     "port $memcached_port; rcached pid $rcached_pid port $rcached_port" >&2

# ---- 1. memory after loading the same keys ---------------------------------
declare -A rss0 rss1 own loadt
for s in redis memcached rcached; do
  eval "pid=\$${s}_pid port=\$${s}_port"
  rss0[$s]=$(rss_kb "$pid")
  proto=resp; [ $s = memcached ] && proto=memcache
  if out=$("$loader" --port "$port" --proto $proto --keys $keys --key-size 14 --value-size 100); then
    loadt[$s]=$(awk '{gsub(/[(]/, "", $7); print $7}' <<<"$out")
  else
    step_fail "loading $keys keys into $s"
  fi
  sleep 0.5   # let background work (rehashing, lazy frees) settle
  rss1[$s]=$(rss_kb "$pid")
  case $s in
    memcached)
      own[$s]=$(mc_stat "$port" bytes)
      n=$(mc_stat "$port" curr_items) ;;
    *)
      own[$s]=$(info_field "$port" memory used_memory)
      n=$(dbsize "$port") ;;
  esac
  [ "${n:-0}" = "$keys" ] || step_fail "$s holds ${n:-?} keys after loading $keys"
done

# ---- 2. redis-benchmark, alternating order, medians ------------------------
for s in redis rcached; do
  eval "port=\$${s}_port"
  "$redis_cli" -h 127.0.0.1 -p "$port" FLUSHALL >/dev/null 2>&1 || step_fail "FLUSHALL on $s"
done
declare -A rps
run_bench() { # server pipeline round
  local s=$1 P=$2 port csv
  eval "port=\$${s}_port"
  if ! csv=$("$redis_benchmark" -h 127.0.0.1 -p "$port" -t set,get -n $bench_n -r $bench_r \
             -d 100 -c $bench_c -P "$P" --csv 2>"$tmp/rb.err"); then
    step_fail "redis-benchmark -P $P against $s: $(head -c 300 "$tmp/rb.err")"
    return
  fi
  local set get
  set=$(tr -d '"\r' <<<"$csv" | awk -F, '$1 == "SET" {print $2}')
  get=$(tr -d '"\r' <<<"$csv" | awk -F, '$1 == "GET" {print $2}')
  [ -n "$set" ] && [ -n "$get" ] || { step_fail "no SET/GET figures from redis-benchmark against $s"; return; }
  rps[$s,$P,SET]+="$set "
  rps[$s,$P,GET]+="$get "
}
for r in $(seq 1 "$rounds"); do
  for P in 1 16; do
    if [ $((r % 2)) = 1 ]; then order="redis rcached"; else order="rcached redis"; fi
    for s in $order; do run_bench $s $P; done
  done
done
median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ---- 3. the table ----------------------------------------------------------
ratio() { # a b -> a/b with 2 decimals, or "-"
  if [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "-" ] && [ "$2" != "-" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
  else echo "-"; fi
}
mib() { [ -n "$1" ] && awk -v v="$1" -v d="$2" 'BEGIN {printf "%.1f\n", v / d}' || echo "-"; }
per_key() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v n=$keys 'BEGIN {printf "%.0f\n", (b - a) * 1024 / n}' || echo "-"; }
row() { # figure redis memcached rcached
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$(ratio "$4" "$2")" "$(ratio "$4" "$3")"
}
{
  echo "| figure | redis-server | memcached | rcached | rcached / redis-server | rcached / memcached |"
  echo "|---|---:|---:|---:|---:|---:|"
  for P in 1 16; do
    for t in SET GET; do
      a=$(median "${rps[redis,$P,$t]:-}"); b=$(median "${rps[rcached,$P,$t]:-}")
      row "$t requests/s, -P $P (median of $rounds)" "${a:--}" "-" "${b:--}"
    done
  done
  row "RSS after $keys SETs (MiB)" "$(mib "${rss1[redis]:-}" 1024)" "$(mib "${rss1[memcached]:-}" 1024)" "$(mib "${rss1[rcached]:-}" 1024)"
  row "RSS growth per key (bytes)" "$(per_key "${rss0[redis]:-}" "${rss1[redis]:-}")" \
      "$(per_key "${rss0[memcached]:-}" "${rss1[memcached]:-}")" "$(per_key "${rss0[rcached]:-}" "${rss1[rcached]:-}")"
  row "own memory figure (MiB: used_memory; memcached bytes)" "$(mib "${own[redis]:-}" 1048576)" \
      "$(mib "${own[memcached]:-}" 1048576)" "$(mib "${own[rcached]:-}" 1048576)"
  row "pipelined load of $keys SETs (sets/s, rcache-loader)" "${loadt[redis]:--}" "${loadt[memcached]:--}" "${loadt[rcached]:--}"
} >"$tmp/table.md"

echo
echo "compare.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $("$redis_server" --version | awk '{print $3}'), memcached $("$memcached" -V | awk '{print $2}'), keys=$keys, redis-benchmark -n $bench_n -r $bench_r -d 100 -c $bench_c"
echo
cat "$tmp/table.md"
echo
echo "every round (requests/s, in the order run; the first server alternates):"
for P in 1 16; do
  for t in SET GET; do
    echo "  $t -P $P: redis-server ${rps[redis,$P,$t]:-}; rcached ${rps[rcached,$P,$t]:-}"
  done
done
[ -n "$outfile" ] && cp "$tmp/table.md" "$outfile"
# Every cell must hold a figure, otherwise a step failed silently.
if grep -q '| - | - |' "$tmp/table.md" || grep -qE '\| (SET|GET)[^|]*\| - \|' "$tmp/table.md"; then
  step_fail "a figure is missing from the table"
fi
for s in redis memcached rcached; do
  eval "pid=\$${s}_pid"
  kill -0 "$pid" 2>/dev/null || step_fail "$s died during the run"
done
exit $failed
