#!/usr/bin/env bash
# lint.sh BUILD_DIR - static analysis of src/: clang-tidy (checks in
# .clang-tidy, every finding an error) with BUILD_DIR/compile_commands.json,
# and cppcheck (warning, performance, portability). Exits non-zero on any
# finding. `make lint` runs it on the default build; .ci/run runs `make lint`.
#
# Only directories known to be clean are checked, so CI stays green while
# the others are being fixed by their owners; add a directory here once
# `scripts/lint.sh BUILD_DIR` passes with it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

# clang-tidy: src/server has open findings (reported to its owners,
# issue 7); add it when they are fixed.
TIDY_DIRS=(src/lib)
# cppcheck: both are clean.
CPPCHECK_DIRS=(src/lib src/server)

db="$build/compile_commands.json"
if [ ! -f "$db" ]; then
  echo "lint.sh: $db not found (configure $build with CMake first)" >&2
  exit 2
fi
for tool in clang-tidy cppcheck; do
  command -v "$tool" >/dev/null 2>&1 || { echo "lint.sh: $tool not installed" >&2; exit 2; }
done

status=0

files=()
for d in "${TIDY_DIRS[@]}"; do
  for f in "$d"/*.c; do
    [ -e "$f" ] || continue
    if ! grep -q "\"file\": *\"[^\"]*/$f\"" "$db"; then
      echo "lint.sh: $f is not in $db (stale build dir?)" >&2
      status=1
      continue
    fi
    files+=("$f")
  done
done
echo "lint.sh: clang-tidy on ${#files[@]} files (${TIDY_DIRS[*]})"
if [ "${#files[@]}" -gt 0 ]; then
  # -quiet: only findings; the pipeline keeps clang-tidy's exit status.
  if ! clang-tidy -quiet -p "$build" "${files[@]}" 2>/dev/null; then
    echo "lint.sh: clang-tidy found problems" >&2
    status=1
  fi
fi

echo "lint.sh: cppcheck on ${CPPCHECK_DIRS[*]}"
if ! cppcheck --enable=warning,performance,portability --error-exitcode=1 \
     --inline-suppr --quiet --std=c11 -D_GNU_SOURCE -Iinclude -Isrc/lib \
     -Isrc/server "${CPPCHECK_DIRS[@]}"; then
  echo "lint.sh: cppcheck found problems" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "lint.sh: clean"
fi
exit "$status"
