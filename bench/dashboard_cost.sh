#!/usr/bin/env bash
# dashboard_cost.sh - what the dashboard and the diagnostics cost (issue 15:
# the page at 1 s refresh <= 1% of rcached's CPU; the estimator and sketches
# <= 5% on get hits). Three parts, each a ratio taken in the same run:
#
# 1. Page open vs closed, under load (wall clock): rcached with N keys under
#    a steady redis-benchmark GET load; phases of S seconds alternate without
#    and with the real dashboard open in headless chromium (bench/
#    dashboard_page.js), R rounds. Per phase: rcached's CPU (utime + stime
#    of /proc/PID/stat, all threads), the commands it served (INFO
#    total_commands_processed) and so its CPU per command. Reported: the
#    median CPU per command with the page open over closed, and the extra CPU
#    as % of one core. On a shared machine the phases see different
#    neighbours: read the spread. RCACHE_COST_LOAD=0: no redis-benchmark, the
#    page alone (issue 15's "the dashboard at 1 s refresh costs rcached <= 1%
#    CPU", measured directly): rcached's CPU as % of one core with the page
#    open and closed, their medians and the difference.
# 2. Instructions (callgrind; repeat on any machine load): rcached under
#    valgrind --tool=callgrind, counters zeroed and dumped with
#    callgrind_control around (a) G GETs from redis-benchmark and (b) 60
#    seconds' worth of the page's requests (each second history, stats and
#    snapshot; every 5th also mrc, hotkeys, sizes, namespaces), sent back to
#    back by curl. Reported: instructions per GET, per page-second, and the
#    page's share at the load rate measured in part 1. Then the same GETs on
#    an rcached without the admin port (diagnostics off): the estimator's and
#    sketches' instructions per GET in rcached (MRC rate 1, hot keys 1/16).
# 3. The library's get-hit loop (build/bench/rcache-diag-ir, the loop of
#    `rcache-bench micro`) under callgrind, diagnostics off, library
#    defaults and rcached's options: instructions per get hit and the ratio.
#
# Instructions leave out cache misses and lock waits, so they understate a
# DRAM-bound lookup and are the work added, not its full time.
# Usage: bench/dashboard_cost.sh [build-dir] [keys] [seconds] [rounds]
#   defaults: build 100000 20 3. RCACHE_COST_PARTS="1 2 3" picks parts.
set -u
BUILD=${1:-build}; KEYS=${2:-100000}; SECS=${3:-20}; ROUNDS=${4:-3}
PARTS=${RCACHE_COST_PARTS:-1 2 3}
LOAD=${RCACHE_COST_LOAD:-1}
RCACHED=$BUILD/src/server/rcached
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rcache-cost.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
TCK=$(getconf CLK_TCK)
TOKEN=cost-$RANDOM$RANDOM
for t in redis-cli redis-benchmark curl; do
  command -v $t >/dev/null || { echo "dashboard_cost: $t missing"; exit 1; }
done

# start_server PREFIX ADMIN: rcached (or PREFIX rcached, e.g. valgrind) on
# a free port pair, with the admin API (and so diagnostics) on APORT when
# ADMIN is 1, off (--admin-port 0) when 0; sets SPID RPORT APORT.
start_server() {
  local prefix=$1 admin=$2
  for _ in $(seq 20); do
    RPORT=$((20000 + RANDOM % 40000)); APORT=$((RPORT + 1))
    set -- --admin-port 0
    [ "$admin" = 1 ] && set -- --admin-port "$APORT" --admin-token "$TOKEN"
    $prefix "$RCACHED" --port "$RPORT" --threads 2 --max-items 0 "$@" >"$TMP/srv.out" 2>&1 &
    SPID=$!; PIDS+=("$SPID")
    for _ in $(seq 1200); do
      kill -0 "$SPID" 2>/dev/null || break
      [ "$(redis-cli -p "$RPORT" PING 2>/dev/null)" = PONG ] && return 0
      sleep 0.1
    done
    kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
  done
  echo "rcached did not start: $(tail -3 "$TMP/srv.out")"; exit 1
}
stop_server() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
fill() { # KEYS keys key:<12 digits>, 100-byte values, as redis-benchmark -r names them
  seq 0 $((KEYS - 1)) | awk '{ printf "SET key:%012d %0100d\n", $1, $1 }' |
    redis-cli -p "$RPORT" --pipe >/dev/null
}
cpu() { awk '{ print $14 + $15 }' "/proc/$SPID/stat"; }
cmds() { redis-cli -p "$RPORT" INFO stats | tr -d '\r' | awk -F: '/^total_commands_processed:/ { print $2 }'; }

# ---- part 1 ---------------------------------------------------------------
part1() {
  local npm=$BUILD/browser-npm/node_modules
  if [ ! -d "$npm/playwright-core" ] || [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "part 1 skipped: needs chromium and $npm/playwright-core (make test installs it)"
    return
  fi
  start_server "" 1
  fill
  local bpid= what="redis-benchmark GET -c 8"
  if [ "$LOAD" = 1 ]; then
    redis-benchmark -p "$RPORT" -t get -r "$KEYS" -n 2000000000 -c 8 -q >/dev/null 2>&1 &
    bpid=$!; PIDS+=("$bpid")
  else
    what="no other load"
  fi
  sleep 2
  echo "part 1: rcached, $KEYS keys, $what; $ROUNDS rounds of $SECS s closed / $SECS s open"
  printf '%-7s %-6s %10s %12s %14s\n' round page "CPU %core" "kcmd/s" "CPU us/cmd"
  : >"$TMP/p1"
  for r in $(seq "$ROUNDS"); do
    for mode in closed open; do
      local ppid=
      if [ "$mode" = open ]; then
        mkfifo "$TMP/in.$r"
        NODE_PATH=$npm node "$HERE/dashboard_page.js" "http://127.0.0.1:$APORT" "$TOKEN" \
          <"$TMP/in.$r" >"$TMP/page.$r" 2>&1 &
        ppid=$!; PIDS+=("$ppid")
        exec 9>"$TMP/in.$r"
        for _ in $(seq 1200); do grep -q ready "$TMP/page.$r" && break; sleep 0.1; done
        grep -q ready "$TMP/page.$r" || { echo "page did not open: $(cat "$TMP/page.$r")"; exit 1; }
        sleep 2 # past the page's first full load
      fi
      local c0 n0 c1 n1
      c0=$(cpu); n0=$(cmds); sleep "$SECS"; c1=$(cpu); n1=$(cmds)
      [ -n "$ppid" ] && { exec 9>&-; wait "$ppid" 2>/dev/null; }
      awk -v r="$r" -v m="$mode" -v c=$((c1 - c0)) -v n=$((n1 - n0)) -v t="$TCK" -v s="$SECS" 'BEGIN {
        printf "%-7s %-6s %10.3f %12.1f %14.2f\n", r, m, 100 * c / t / s, n / s / 1000, 1e6 * c / t / n }' |
        tee -a "$TMP/p1"
    done
  done
  [ -n "$bpid" ] && { kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null; }
  stop_server
  if [ "$LOAD" != 1 ]; then # the page alone: CPU % of one core, medians
    awk '{ c[$2] = c[$2] " " $3 }
      function med(s,  a, n, i, j, x) { n = split(s, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      END { printf "median CPU, %% of one core: closed %.3f, open %.3f: the page costs %+.3f%% of one core\n",
                   med(c["closed"]), med(c["open"]), med(c["open"]) - med(c["closed"]) }' "$TMP/p1"
    return
  fi
  awk -v t="$TCK" '{ us[$2] = us[$2] " " $5; cpu[$2] += $3; k[$2] += $4; n[$2]++ }
    function med(s,  a, n, i, j, x) { n = split(s, a, " ")
      for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { mc = med(us["closed"]); mo = med(us["open"])
      printf "median CPU per command: closed %.2f us, open %.2f us: open/closed %.4f (%+.2f%%)\n", mc, mo, mo / mc, 100 * (mo / mc - 1)
      printf "extra CPU with the page open at the open phases'"'"' load: %+.2f%% of one core (of %.1f%% busy)\n",
             (mo - mc) * k["open"] / n["open"] * 1000 / 1e6 * 100, cpu["open"] / n["open"] }' "$TMP/p1"
  LOAD_CMDS=$(awk '$2 == "closed" { k += $4; n++ } END { printf "%.0f", k / n * 1000 }' "$TMP/p1")
}

# ---- part 2 ---------------------------------------------------------------
CG_N=0
cg_measure() { # cg_measure COMMAND...: instructions rcached spent while COMMAND ran
  callgrind_control -z "$SPID" >/dev/null 2>&1
  "$@" >/dev/null 2>&1
  CG_N=$((CG_N + 1))
  callgrind_control -d "$SPID" >/dev/null 2>&1
  for _ in $(seq 600); do [ -s "$TMP/cg.$SPID.$CG_N" ] && break; sleep 0.1; done
  awk '/^totals:/ { print $2 }' "$TMP/cg.$SPID.$CG_N"
}
page_requests() { # SECONDS of the page's requests, back to back
  local a="Authorization: Bearer $TOKEN" u="http://127.0.0.1:$APORT/api/cache" s urls=()
  for s in $(seq 1 "$1"); do
    urls+=("$u/history?since=0&max=2" "$u/stats" "$u/snapshot")
    [ $((s % 5)) -eq 1 ] && urls+=("$u/mrc" "$u/hotkeys?n=15" "$u/sizes" "$u/namespaces")
  done
  curl -s -H "$a" "${urls[@]}" >/dev/null
}
part2() {
  command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    { echo "part 2 skipped: valgrind missing"; return; }
  local G=20000 PSECS=60 ir_get ir_page ir_get_off
  local vg="valgrind --tool=callgrind --callgrind-out-file=$TMP/cg.%p"
  start_server "$vg" 1
  fill
  page_requests 5 # warm: the page's first calls
  ir_get=$(cg_measure redis-benchmark -p "$RPORT" -t get -r "$KEYS" -n "$G" -c 2 -q)
  ir_page=$(cg_measure page_requests "$PSECS")
  stop_server
  start_server "$vg" 0
  fill
  ir_get_off=$(cg_measure redis-benchmark -p "$RPORT" -t get -r "$KEYS" -n "$G" -c 2 -q)
  stop_server
  echo "part 2: instructions (callgrind) in rcached, $KEYS keys"
  awk -v g="$G" -v on="$ir_get" -v off="$ir_get_off" -v pg="$ir_page" -v ps="$PSECS" -v load="${LOAD_CMDS:-0}" 'BEGIN {
    printf "GET (redis-benchmark, %d requests): %.0f instructions each with diagnostics on, %.0f off (--admin-port 0): on/off %.4f (%+.2f%%)\n",
           g, on / g, off / g, on / off, 100 * (on / off - 1)
    printf "dashboard: %.0f instructions per second of the page (%d s of its requests), the work of %.0f GETs\n",
           pg / ps, ps, pg / ps / (on / g)
    if (load > 0)
      printf "at the %.0f GET/s of part 1: the page adds %.3f%% to rcached'"'"'s instructions\n",
             load, 100 * (pg / ps) / (load * on / g) }'
}

# ---- part 3 ---------------------------------------------------------------
part3() {
  local bin=$BUILD/bench/rcache-diag-ir
  command -v valgrind >/dev/null && [ -x "$bin" ] || { echo "part 3 skipped: valgrind or $bin missing"; return; }
  echo "part 3: library get-hit loop (rcache-diag-ir), instructions per get hit (callgrind)"
  printf '%-26s %10s %10s %10s %10s %10s\n' workload off lib "lib/off" rcached "rcached/off"
  local w
  for w in "1000 uniform 200000" "100000 zipf 200000"; do
    set -- $w
    local ir=()
    for m in off lib rcached; do
      valgrind --tool=callgrind --toggle-collect=measured_gets --callgrind-out-file="$TMP/lib.$m" \
        "$bin" --entries "$1" --dist "$2" --ops "$3" --mode "$m" >/dev/null 2>&1
      ir+=("$(awk '/^totals:/ { print $2 }' "$TMP/lib.$m")")
    done
    awk -v w="$1 keys $2" -v k="$3" -v a="${ir[0]}" -v b="${ir[1]}" -v c="${ir[2]}" 'BEGIN {
      printf "%-26s %10.1f %10.1f %10.4f %10.1f %10.4f\n", w, a / k, b / k, b / a, c / k, c / a }'
  done
}

for p in $PARTS; do "part$p"; echo; done
