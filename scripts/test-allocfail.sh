#!/usr/bin/env bash
# test-allocfail.sh [BUILD_DIR] - the allocation-failure suite (tests/alloc):
# configure BUILD_DIR (default build-allocfail) with the injection hook and
# ASan+UBSan, build the allocfail tests and run them (`ctest -L allocfail`),
# with leak detection on, so a failure path that leaks fails the run.
# `make test-allocfail` is this script.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-allocfail}
jobs=${JOBS:-2}
[ "$jobs" -gt 2 ] && jobs=2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRCACHE_ALLOC_FAIL=ON \
  -DRCACHE_SANITIZE=address,undefined ${CMAKE_ARGS:-} >/dev/null
if ! grep -q test_alloc_fail "$build/tests/alloc/CTestTestfile.cmake" 2>/dev/null; then
  echo "test-allocfail: tests/alloc is not in the top-level CMakeLists area list" >&2
  exit 1
fi
cmake --build "$build" -j"$jobs" --target test_alloc_fail
cd "$build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -L allocfail
