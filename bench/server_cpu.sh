#!/usr/bin/env bash
# server_cpu.sh - what a request costs the server: redis-server and rcached
# side by side, in one run, on this machine (issue 16).
#
# For each workload below it runs redis-benchmark against both servers and
# reads, around every run, the server process's CPU time (utime + stime of
# /proc/PID/stat, all threads). It reports requests/s, server CPU
# microseconds per request and p99 latency; the order of the two servers
# alternates from run to run, every workload runs --rounds times, and the
# table holds the medians and rcached's ratio to redis-server.
#
# Workloads (100-byte values unless said; -r 100000 random keys):
#   SET and GET at -c 50 -P 1, -c 50 -P 16, -c 1 -P 1, -c 500 -P 1;
#   GET with a new connection per request (-k 0), -c 50;
#   GET of 1 MiB values (16 keys, loaded first), -c 50;
#   MGET of 100 keys, -c 50;
#   EVALSHA of redis-py's Lock release script (GET, compare, DEL) at -c 50
#   -P 1 and -P 16, after SCRIPT LOAD on both servers (issue 11).
# On a 2-core machine the load generator competes with the server, so
# requests/s mostly measure redis-benchmark; CPU per request is the figure
# a server owner pays for.  The ratios are meaningful even on a loaded
# machine (both servers run in the same minutes); absolute figures are not.
#
# usage: bench/server_cpu.sh [--quick] [--build-dir DIR] [--rounds N]
#                            [--scale F] [--out FILE] [--rcached-args "..."]
#                            [--engines "epoll uring"] [--baseline BIN]
#   --quick        tiny counts, one round: checks that it runs (make test)
#   --build-dir    where rcached was built (default: build)
#   --rounds N     rounds per workload (default 3; medians)
#   --scale F      multiply every request count by F (default 1)
#   --out FILE     also write the table to FILE
#   --rcached-args extra rcached options (e.g. "--threads 1")
#   --only REGEX   run only the workloads whose label matches (grep -E)
#   --engines LIST one rcached per I/O engine (--io-engine), all measured
#                  in the same rounds as redis-server, e.g. "epoll uring";
#                  default: one rcached with its default engine
#   --bins LIST    instead, one rcached per binary, LIST of LABEL=PATH
#                  (e.g. "old=/tmp/old/rcached new=build/src/server/rcached"):
#                  builds before and after a change in the same rounds
#   --baseline BIN another rcached binary (e.g. main's, copied aside) run as
#                  "base" (or "base_ENGINE" per --engines) in the same
#                  rounds: an old-vs-new A/B with redis-server alongside
# Environment: RCACHED, REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI override
# the programs.  Exit status: 0 when every figure was measured, 1 when a
# step failed, 77 when rcached is not built (tests treat it as skipped),
# 2 for bad usage.  Every server it started is stopped by PID on exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
quick=0
rounds=3
scale=1
outfile=
rcached_args=
only=
engines=
bins=
baseline=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --build-dir) build=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --scale) scale=$2; shift ;;
    --out) outfile=$2; shift ;;
    --rcached-args) rcached_args=$2; shift ;;
    --only) only=$2; shift ;;
    --engines) engines=$2; shift ;;
    --bins) bins=$2; shift ;;
    --baseline) baseline=$2; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "server_cpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ $quick = 1 ] && { rounds=1; scale=0.01; }

rcached=${RCACHED:-$build/src/server/rcached}
redis_server=${REDIS_SERVER:-redis-server}
redis_benchmark=${REDIS_BENCHMARK:-redis-benchmark}
redis_cli=${REDIS_CLI:-redis-cli}
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then
  echo "server_cpu.sh: --baseline $baseline is not an executable" >&2
  exit 2
fi
if [ ! -x "$rcached" ]; then
  echo "server_cpu.sh: rcached is not built ($rcached); skipping" >&2
  exit 77
fi
for p in "$redis_server" "$redis_benchmark" "$redis_cli"; do
  command -v "$p" >/dev/null 2>&1 || { echo "server_cpu.sh: $p not found (scripts/deps.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/rcache-server-cpu.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=0
step_fail() { echo "server_cpu.sh: FAILED: $*" >&2; failed=1; }

# A free TCP port below the ephemeral range (see compare.sh).
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
wait_up() {
  local pid=$1 port=$2 i
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
servers=(redis)
if [ -n "$bins" ]; then
  for b in $bins; do
    l=${b%%=*}
    case $l in *[!A-Za-z0-9_]*|'') echo "server_cpu.sh: bad label in --bins: '$b'" >&2; exit 2 ;; esac
    [ -x "${b#*=}" ] || { echo "server_cpu.sh: --bins: ${b#*=} is not an executable" >&2; exit 2; }
    servers+=("rbin_$l"); eval "bin_$l=\${b#*=}"
  done
elif [ -n "$engines" ]; then
  for e in $engines; do servers+=("rcached_$e"); done
  [ -n "$baseline" ] && for e in $engines; do servers+=("base_$e"); done
else
  servers+=(rcached)
  [ -n "$baseline" ] && servers+=(base)
fi
start() { # NAME: sets ${NAME}_pid and ${NAME}_port
  local name=$1 try port pid engine_arg= prog=$rcached
  case $name in
    rbin_*) eval "prog=\$bin_${name#rbin_}" ;;
    base*) prog=$baseline ;;
  esac
  case $name in rcached_*|base_*) engine_arg="--io-engine ${name#*_}" ;; esac
  for try in 1 2 3; do
    port=$(free_port) || break
    if [ "$name" = redis ]; then
      "$redis_server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --protected-mode no --daemonize no --dir "$tmp" --logfile "$tmp/redis.log" \
        --maxclients 10000 &
    else
      # shellcheck disable=SC2086
      "$prog" --port "$port" --bind 127.0.0.1 --admin-port 0 --maxmemory 0 \
        --max-items 0 --maxclients 10000 --loglevel warning $engine_arg $rcached_args \
        >"$tmp/$name.log" 2>&1 &
    fi
    pid=$!
    pids+=("$pid")
    if wait_up "$pid" "$port"; then
      eval "${name}_pid=$pid ${name}_port=$port"
      return 0
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  echo "server_cpu.sh: cannot start $name; its log:" >&2
  cat "$tmp/$name.log" >&2 2>/dev/null
  return 1
}
for s in "${servers[@]}"; do
  start "$s" || exit 1
  eval "echo \"server_cpu.sh: $s pid \$${s}_pid port \$${s}_port\"" >&2
done
for s in "${servers[@]}"; do # an engine that fell back is not what was asked
  case $s in rcached_*|base_*)
    eval "port=\$${s}_port"
    api=$("$redis_cli" -h 127.0.0.1 -p "$port" INFO server | tr -d '\r' | sed -n 's/^multiplexing_api://p')
    want=${s#*_}; [ "$want" = uring ] && want=io_uring
    [ "$api" = "$want" ] || { echo "server_cpu.sh: $s runs '$api', not $want; its log:" >&2; cat "$tmp/$s.log" >&2; exit 1; }
  esac
done

hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
# CPU ticks (utime + stime) of a process, all its threads.
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null; }
count() { awk -v n="$1" -v f="$scale" 'BEGIN {v = int(n * f); if (v < 20) v = 20; print v}'; }

# Workloads: label | redis-benchmark arguments (the count is added).
mget=MGET
for i in $(seq 1 100); do mget="$mget key:__rand_int__"; done
declare -a wl_label wl_args wl_n
add() {
  [ -z "$only" ] || grep -qE -- "$only" <<<"$1" || return 0
  wl_label+=("$1"); wl_n+=("$(count "$2")"); wl_args+=("$3")
}
for t in SET GET; do
  lc=$(tr 'A-Z' 'a-z' <<<"$t")
  add "$t -c 50 -P 1"  200000  "-t $lc -d 100 -r 100000 -c 50 -P 1"
  add "$t -c 50 -P 16" 1000000 "-t $lc -d 100 -r 100000 -c 50 -P 16"
  add "$t -c 1 -P 1"   50000   "-t $lc -d 100 -r 100000 -c 1 -P 1"
  add "$t -c 500 -P 1" 200000  "-t $lc -d 100 -r 100000 -c 500 -P 1"
done
add "GET -k 0 (a connection per request) -c 50" 20000 "-t get -d 100 -r 100000 -c 50 -P 1 -k 0"
add "GET 1 MiB values -c 50" 3000 "-r 16 -c 50 -P 1 GET big:__rand_int__"
add "MGET 100 keys -c 50"   20000 "-r 100000 -c 50 -P 1 $mget"
# redis-py's Lock.release script, as redis-py sends it; most lock keys are
# absent, so the common path is GET + compare (both servers alike).
release_lua="local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('del', KEYS[1])
return 1"
release_sha=$(printf '%s' "$release_lua" | sha1sum | cut -d' ' -f1)
add "EVALSHA lock release -c 50 -P 1"  100000 "-r 100000 -c 50 -P 1 EVALSHA $release_sha 1 lock:__rand_int__ tok"
add "EVALSHA lock release -c 50 -P 16" 400000 "-r 100000 -c 50 -P 16 EVALSHA $release_sha 1 lock:__rand_int__ tok"

# 16 values of 1 MiB under big:000000000000 .. big:000000000015, and the
# 100-byte keys MGET reads (the SET runs rewrite them with the same size).
head -c 1048576 /dev/zero | tr '\0' 'v' >"$tmp/big"
for s in "${servers[@]}"; do
  eval "port=\$${s}_port"
  for i in $(seq 0 15); do
    "$redis_cli" -h 127.0.0.1 -p "$port" -x SET "$(printf 'big:%012d' "$i")" <"$tmp/big" >/dev/null ||
      step_fail "loading 1 MiB values into $s"
  done
  "$redis_benchmark" -h 127.0.0.1 -p "$port" -t set -d 100 -r 100000 -c 20 -P 64 \
    -n "$(count 500000)" -q >/dev/null 2>&1 || step_fail "loading keys into $s"
  [ "$("$redis_cli" -h 127.0.0.1 -p "$port" SCRIPT LOAD "$release_lua")" = "$release_sha" ] ||
    step_fail "SCRIPT LOAD of the lock release script into $s"
done

declare -A rps cpu p99
run_one() { # server workload-index
  local s=$1 i=$2 port pid n c0 c1 csv line
  eval "port=\$${s}_port pid=\$${s}_pid"
  n=${wl_n[$i]}
  c0=$(cpu_ticks "$pid")
  # shellcheck disable=SC2086
  if ! csv=$("$redis_benchmark" -h 127.0.0.1 -p "$port" -n "$n" --csv ${wl_args[$i]} 2>"$tmp/rb.err"); then
    step_fail "redis-benchmark '${wl_label[$i]}' against $s: $(head -c 300 "$tmp/rb.err")"
    return
  fi
  c1=$(cpu_ticks "$pid")
  line=$(tr -d '"\r' <<<"$csv" | awk -F, 'NR == 2')
  local r p
  r=$(awk -F, '{print $2}' <<<"$line")
  p=$(awk -F, '{print $7}' <<<"$line")
  [ -n "$r" ] && [ -n "$c0" ] && [ -n "$c1" ] || { step_fail "no figures for '${wl_label[$i]}' from $s"; return; }
  rps[$s,$i]+="$r "
  p99[$s,$i]+="$p "
  cpu[$s,$i]+="$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}') "
}
for r in $(seq 1 "$rounds"); do
  for i in "${!wl_label[@]}"; do
    # rotate the order of the servers from run to run
    k=$(((r + i) % ${#servers[@]}))
    for s in "${servers[@]:$k}" "${servers[@]:0:$k}"; do run_one "$s" "$i"; done
  done
done

median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() {
  if [ "$1" != "-" ] && [ "$2" != "-" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
  else echo "-"; fi
}
# One column group per figure: redis-server, then each rcached and its
# ratio to redis-server.
rcs=("${servers[@]:1}")
{
  h="| workload | redis req/s"; d="|---|---:"
  for s in "${rcs[@]}"; do h+=" | ${s/_/ } req/s | ratio"; d+="|---:|---:"; done
  h+=" | redis CPU µs/req"; d+="|---:"
  for s in "${rcs[@]}"; do h+=" | ${s/_/ } CPU µs/req | ratio"; d+="|---:|---:"; done
  h+=" | redis p99 ms"; d+="|---:"
  for s in "${rcs[@]}"; do h+=" | ${s/_/ } p99 ms | ratio"; d+="|---:|---:"; done
  echo "$h |"; echo "$d|"
  for i in "${!wl_label[@]}"; do
    line="| ${wl_label[$i]}"
    for f in rps cpu p99; do
      eval "a=\$(median \"\${$f[redis,\$i]:-}\")"
      line+=" | $a"
      for s in "${rcs[@]}"; do
        eval "b=\$(median \"\${$f[$s,\$i]:-}\")"
        line+=" | $b | $(ratio "$b" "$a")"
      done
    done
    echo "$line |"
  done
} >"$tmp/table.md"

echo
echo "server_cpu.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$("$redis_server" --version | awk '{print $3}'), rounds=$rounds scale=$scale, rcached args: ${rcached_args:-none}, engines: ${engines:-default}${bins:+, bins: $bins}${baseline:+, baseline: $baseline}"
echo
cat "$tmp/table.md"
echo
echo "every round (req/s; CPU µs/req), in the order run:"
for i in "${!wl_label[@]}"; do
  line="  ${wl_label[$i]}:"
  for s in "${servers[@]}"; do line+=" $s ${rps[$s,$i]:-}; ${cpu[$s,$i]:-}|"; done
  echo "${line%|}"
done
[ -n "$outfile" ] && cp "$tmp/table.md" "$outfile"
grep -q '| - |' "$tmp/table.md" && step_fail "a figure is missing from the table"
for s in "${servers[@]}"; do
  eval "pid=\$${s}_pid"
  kill -0 "$pid" 2>/dev/null || step_fail "$s died during the run"
done
exit $failed
