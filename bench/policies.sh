#!/usr/bin/env bash
# policies.sh - every eviction policy on every shared trace at 1% and 10%
# of its unique keys (one shard, count-bounded, as ../shared/traces models
# it), as one markdown table: miss ratio of each policy and its ratio to
# LRU's, then per policy the mean ratio to LRU and the worst cell, and the
# "oracle" line: the mean when each cell takes the best of lru and the
# policies listed (a bound on what choosing among them per trace gives).
# `--policies opt,...` adds Belady's offline optimum (rcache-bench's opt:
# the fewest misses any policy can have), left out of the oracle line.
# Made with `rcache-bench trace --policy lru,P1,P2,... --sweep 1%,10%`;
# BENCHMARKS.md's policy table and the choice of the default policy come
# from it. The cost-aware gdsf is compared on cost, not misses, by
# bench/cost.sh.
#
# usage: bench/policies.sh [--bench PATH] [--traces DIR] [--only REGEX]
#                          [--policies P1,P2,...]   (lru always comes first)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../build/bench/rcache-bench
traces=$here/../../shared/traces
only=.
pols="s3fifo sieve wtinylfu wtinylfu-fixed"
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=$2; shift ;;
    --traces) traces=$2; shift ;;
    --only) only=$2; shift ;;
    --policies) pols=${2//,/ }; shift ;;
    *) echo "policies.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bench" ] || { echo "policies.sh: $bench not built" >&2; exit 1; }
np=$(echo "$pols" | wc -w)
hdr="| trace | cap | lru |"; sep="|---|---:|---:|"
for p in $pols; do hdr="$hdr $p |"; sep="$sep---:|"; done
for p in $pols; do hdr="$hdr $p/lru |"; sep="$sep---:|"; done
echo "$hdr"
echo "$sep"
# the .csv and .txt cloudPhysicsIO files replay the same keys as the .bin
rows=$(find "$traces" -type f ! -name '*.md' ! -name 'LICENSE*' ! -name '*.csv' \
            ! -name 'cloudPhysicsIO.txt' | sort | grep -E -- "$only" |
  while read -r f; do
    name=${f#"$traces"/}
    "$bench" trace "$f" --policy "lru,${pols// /,}" --sweep 1%,10% --no-progress |
      awk -v n="$name" -v np="$np" -F'|' '/^\| [0-9.]+%/ {
        gsub(/ /, "", $2); gsub(/ /, "", $3);
        s = sprintf("| %s | %s (%s) |", n, $2, $3);
        for (k = 4; k < 4 + 2 * np + 1; k++) s = s $k "|";
        print s }'
  done)
echo "$rows"
echo
echo "$rows" | awk -F'|' -v pols="$pols" -v np="$np" '
  BEGIN { split(pols, p, " ") }
  { l = $4 + 0; if (l <= 0) next; best = 1;
    for (k = 0; k < np; k++) { v = $(5 + np + k) + 0; s[k] += v; n[k]++;
      if (v > w[k]) { w[k] = v; wc[k] = $2 $3 }
      if (v < best && p[k + 1] != "opt") best = v }
    os += best; on++ }
  END {
    for (k = 0; k < np; k++)
      printf "%s: mean ratio to lru %.3f over %d cells where lru misses; worst %.3f (%s)\n",
        p[k + 1], s[k] / n[k], n[k], w[k], wc[k];
    printf "oracle (best of lru and the policies above but opt in each cell): mean ratio to lru %.3f\n", os / on }'
