#!/usr/bin/env bash
# curves.sh - LRU miss-ratio curves of every shared trace, as one markdown
# table (rows: traces; columns: miss ratio at each cache size), made with
# `rcache-bench trace --sweep`; with --plot-dir DIR also one PNG per trace.
# BENCHMARKS.md's curve table comes from this script.
#
# usage: bench/curves.sh [--bench PATH] [--traces DIR] [--sizes LIST] [--plot-dir DIR] [--only REGEX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../build/bench/rcache-bench
traces=$here/../../shared/traces
sizes=0.1%,1%,5%,10%,25%
plotdir=
only=.
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=$2; shift ;;
    --traces) traces=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --plot-dir) plotdir=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "curves.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bench=$(cd "$(dirname "$bench")" && pwd)/$(basename "$bench")
[ -x "$bench" ] || { echo "curves.sh: $bench not built" >&2; exit 1; }

hdr="| trace | format | requests | unique keys |"
sep="|---|---|---:|---:|"
IFS=, read -r -a cols <<<"$sizes"
for c in "${cols[@]}"; do hdr+=" miss @ $c |"; sep+="---:|"; done
echo "$hdr"; echo "$sep"
cd "$traces"
find . -type f \( -name '*.gz' -o -name '*.xz' -o -name '*.bz2' -o -name '*.bin' -o -name '*.csv' -o -name '*.txt' \) \
     ! -name LICENSE.txt ! -name README.md | sed 's|^\./||' | sort | grep -E "$only" |
while read -r f; do
  args=(trace "$f" --sweep "$sizes" --no-progress)
  if [ -n "$plotdir" ]; then
    mkdir -p "$plotdir"
    name=$(basename "$f"); name=${name//./_}
    args+=(--plot "$plotdir/$name.png")
  fi
  out=$("$bench" "${args[@]}")
  head=$(head -1 <<<"$out")
  fmt=$(sed -E 's/^trace: [^ ]+ \(([^)]*)\).*/\1/' <<<"$head")
  req=$(sed -E 's/.*\), ([0-9]+) requests.*/\1/' <<<"$head")
  uniq=$(sed -E 's/.* ([0-9]+) unique keys.*/\1/' <<<"$head")
  row="| $f | $fmt | $req | $uniq |"
  while IFS='|' read -r _ cap _ _ _ miss _; do
    row+=" $(echo $miss) |"
  done < <(grep -E '^\| [0-9.]+%? \|' <<<"$out")
  echo "$row"
done
