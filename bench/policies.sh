#!/usr/bin/env bash
# policies.sh - every eviction policy on every shared trace at 1% and 10%
# of its unique keys (one shard, count-bounded, as ../shared/traces models
# it), as one markdown table: miss ratio of each policy and its ratio to
# LRU's, then per policy the mean ratio to LRU and the worst cell. Made with
# `rcache-bench trace --policy lru,s3fifo,sieve,wtinylfu,wtinylfu-fixed
# --sweep 1%,10%`; BENCHMARKS.md's policy table and the choice of the
# default policy come from it. The cost-aware gdsf is compared on cost,
# not misses, by bench/cost.sh.
#
# usage: bench/policies.sh [--bench PATH] [--traces DIR] [--only REGEX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../build/bench/rcache-bench
traces=$here/../../shared/traces
only=.
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=$2; shift ;;
    --traces) traces=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "policies.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bench" ] || { echo "policies.sh: $bench not built" >&2; exit 1; }
pols="lru s3fifo sieve wtinylfu wtinylfu-fixed"
echo "| trace | cap | lru | s3fifo | sieve | wtinylfu | wtinylfu-fixed | s3fifo/lru | sieve/lru | wtinylfu/lru | wtinylfu-fixed/lru |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# the .csv and .txt cloudPhysicsIO files replay the same keys as the .bin
rows=$(find "$traces" -type f ! -name '*.md' ! -name 'LICENSE*' ! -name '*.csv' \
            ! -name 'cloudPhysicsIO.txt' | sort | grep -E -- "$only" |
  while read -r f; do
    name=${f#"$traces"/}
    "$bench" trace "$f" --policy "${pols// /,}" --sweep 1%,10% --no-progress |
      awk -v n="$name" -F'|' '/^\| [0-9.]+%/ {
        gsub(/ /, "", $2); gsub(/ /, "", $3);
        printf "| %s | %s (%s) |%s|%s|%s|%s|%s|%s|%s|%s|%s|\n",
          n, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
  done)
echo "$rows"
echo
echo "$rows" | awk -F'|' -v pols="$pols" '
  { for (k = 0; k < 4; k++) { v = $(9 + k) + 0; l = $4 + 0;
      if (l > 0) { s[k] += v; n[k]++; if (v > w[k]) { w[k] = v; wc[k] = $2 $3 } } } }
  END { split(pols, p, " ");
    for (k = 0; k < 4; k++)
      printf "%s: mean ratio to lru %.3f over %d cells where lru misses; worst %.3f (%s)\n",
        p[k + 2], s[k] / n[k], n[k], w[k], wc[k] }'
