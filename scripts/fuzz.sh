#!/usr/bin/env bash
# fuzz.sh SECONDS - build every libFuzzer target (tests/fuzz) with clang in
# build-fuzz and run each for SECONDS / number-of-targets (at least 5 s),
# starting from a temporary copy of its seed corpus (tests/fuzz/corpus/
# <name without fuzz_>) so the repository is never modified.
#
# Inputs that found new coverage are kept in build-fuzz/fuzz-corpus/<target>
# and used again next time.
# Prints, per target, the executions run (libFuzzer's
# stat::number_of_executed_units) and exits non-zero if any target crashed,
# leaked, hit a sanitizer report or timed out; the input that did it is kept
# under build-fuzz/fuzz-artifacts/<target>/ and its path printed.
#
# Environment: RCACHE_FUZZ_BUILD (default build-fuzz), JOBS (default 2),
# FUZZ_TARGETS (space-separated subset, default all).
set -euo pipefail
cd "$(dirname "$0")/.."

total=${1:-60}
build=${RCACHE_FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}
[ "$jobs" -gt 2 ] && jobs=2   # shared machine: never more than 2 jobs

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz.sh: clang is needed (apt-get install clang)" >&2
  exit 1
fi

mkdir -p "$build"
echo "fuzz.sh: configuring $build (clang, RCACHE_FUZZ=ON)"
CC=clang cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DRCACHE_FUZZ=ON \
  -DRCACHE_SANITIZE= >"$build/fuzz-configure.log" 2>&1 || {
  cat "$build/fuzz-configure.log" >&2; echo "fuzz.sh: configure failed" >&2; exit 1; }
list="$build/tests/fuzz/fuzz_targets.txt"
if [ ! -s "$list" ]; then
  echo "fuzz.sh: no fuzz targets configured ($list missing)" >&2
  exit 1
fi
read -r -a targets <<<"$(tr ';' ' ' <"$list")"
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
fi
echo "fuzz.sh: building ${targets[*]}"
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || {
  tail -50 "$build/fuzz-build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 1; }

n=${#targets[@]}
per=$(( total / n ))
[ "$per" -lt 5 ] && per=5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcache-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
art="$PWD/$build/fuzz-artifacts"

failed=0
printf '%-20s %12s %8s  %s\n' target executions seconds result
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  corpus="$tmp/$t"
  mkdir -p "$corpus" "$art/$t"
  if [ -d "tests/fuzz/corpus/$name" ]; then
    cp -R "tests/fuzz/corpus/$name/." "$corpus/"
  fi
  log="$tmp/$t.log"
  set +e
  # New inputs go to the first directory, a corpus kept in the build tree
  # (never the repository) so coverage accumulates across runs.
  keep="$build/fuzz-corpus/$t"
  mkdir -p "$keep"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  timeout $(( per + 120 )) "$build/tests/fuzz/$t" "$keep" "$corpus" "${dict[@]}" \
    -max_total_time="$per" -print_final_stats=1 -timeout=20 \
    -rss_limit_mb=2048 -artifact_prefix="$art/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  result=ok
  if [ "$rc" -ne 0 ]; then
    failed=1
    result="FAILED (exit $rc)"
  fi
  printf '%-20s %12s %8s  %s\n' "$t" "${execs:-?}" "$per" "$result"
  if [ "$rc" -ne 0 ]; then
    { grep -E 'ERROR:|SUMMARY:|runtime error|Test unit written to|deadly signal|Timeout|error' \
        "$log" || tail -5 "$log"; } | head -20 | sed 's/^/    /' || true
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    cp "$log" "$art/$t/last.log"
    echo "    crash input: ${crash:-(none written)}; full log: $art/$t/last.log"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: FAILED (reproduce: $build/tests/fuzz/<target> <crash input>)"
  exit 1
fi
echo "fuzz.sh: all ${n} targets clean"
