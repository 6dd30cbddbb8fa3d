#!/usr/bin/env bash
# cost.sh - compute time recomputed (sum of the costs of the misses) by
# every eviction policy on every shared trace at 1% and 10% of its unique
# keys (one shard, count-bounded), under a seeded per-key cost model
# (`rcache-bench trace --cost`), and the cost-aware policy gdsf's ratio to
# the best cost-blind policy in each cell; then the mean and worst ratio.
# BENCHMARKS.md's cost table comes from it.
#
# usage: bench/cost.sh [--bench PATH] [--traces DIR] [--only REGEX]
#                      [--cost MODEL] [--seed N]
#   MODEL: lognormal[:MU,SIGMA] (default lognormal), or size[:B] (only the
#   traces with object sizes are replayed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../build/bench/rcache-bench
traces=$here/../../shared/traces
only=.
cost=lognormal
seed=1
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=$2; shift ;;
    --traces) traces=$2; shift ;;
    --only) only=$2; shift ;;
    --cost) cost=$2; shift ;;
    --seed) seed=$2; shift ;;
    *) echo "cost.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bench" ] || { echo "cost.sh: $bench not built" >&2; exit 1; }
sized='adapt_size|cloudPhysicsIO|snia_tencent'
case $cost in size*) sel=$sized ;; *) sel=. ;; esac
echo "cost model: $cost, seed $seed; compute time recomputed in s"
echo
echo "| trace | cap | lru | s3fifo | sieve | wtinylfu | wtinylfu-fixed | gdsf | best cost-blind | gdsf / best |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
# the .csv and .txt cloudPhysicsIO files replay the same keys as the .bin
rows=$(find "$traces" -type f ! -name '*.md' ! -name 'LICENSE*' ! -name '*.csv' \
            ! -name 'cloudPhysicsIO.txt' | sort | grep -E -- "$only" | grep -E -- "$sel" |
  while read -r f; do
    name=${f#"$traces"/}
    "$bench" trace "$f" --policy all --sweep 1%,10% --cost "$cost" --seed "$seed" \
        --no-progress |
      awk -v n="$name" -F'|' '/^compute time recomputed/ { on = 1 }
        on && /^\| [0-9.]+%/ { gsub(/ /, "", $2); gsub(/ /, "", $3);
          printf "| %s | %s (%s) |%s|%s|%s|%s|%s|%s|%s|%s|\n",
            n, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
  done)
echo "$rows"
echo
echo "$rows" | awk -F'|' '
  { v = $11 + 0; if ($11 ~ /[0-9]/) { s += v; n++; if (v > w) { w = v; wc = $2 $3 } } }
  END { printf "gdsf / best cost-blind: mean %.3f over %d cells; worst %.3f (%s)\n",
          s / n, n, w, wc }'
