#!/usr/bin/env bash
# dashboard_cost.sh - CPU that rcached spends serving the dashboard (issue 15):
# rcached with N keys (default 100000) in 4 namespaces, then the process's CPU
# time (utime + stime from /proc) over S seconds (default 60) idle, and over S
# seconds while this script polls the way the page does: history and stats
# every second, mrc, hotkeys, sizes and namespaces every 5 s.
# Usage: bench/dashboard_cost.sh [build-dir] [keys] [seconds]
set -eu
BUILD=${1:-build}; KEYS=${2:-100000}; SECS=${3:-60}
RPORT=$((20000 + RANDOM % 40000)); APORT=$((RPORT + 1)); TOKEN=cost-$RANDOM$RANDOM
"$BUILD/src/server/rcached" --port "$RPORT" --admin-port "$APORT" --admin-token "$TOKEN" \
  --max-items 0 --threads 2 >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
until redis-cli -p "$RPORT" PING >/dev/null 2>&1; do sleep 0.1; done
for i in $(seq 1 "$KEYS"); do echo "SET ns$((i % 4)):$i v$i"; done | redis-cli -p "$RPORT" --pipe >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TCK=$(getconf CLK_TCK)
c0=$(cpu); sleep "$SECS"; c1=$(cpu)
A="Authorization: Bearer $TOKEN"; U="http://127.0.0.1:$APORT"
c2=$(cpu)
for s in $(seq 1 "$SECS"); do
  curl -s -H "$A" "$U/api/cache/history?since=0&max=2" -o /dev/null
  curl -s -H "$A" "$U/api/cache/stats" -o /dev/null
  if [ $((s % 5)) -eq 1 ]; then
    for p in mrc hotkeys?n=15 sizes namespaces; do curl -s -H "$A" "$U/api/cache/$p" -o /dev/null; done
  fi
  sleep 1
done
c3=$(cpu)
awk -v i=$((c1 - c0)) -v p=$((c3 - c2)) -v t="$TCK" -v s="$SECS" -v k="$KEYS" 'BEGIN {
  printf "keys %d, %d s each: idle %.2f%% CPU, polled like the dashboard %.2f%% CPU (+%.2f%%)\n",
         k, s, 100 * i / t / s, 100 * p / t / s, 100 * (p - i) / t / s }'
