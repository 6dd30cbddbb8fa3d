#!/usr/bin/env bash
# run-tests.sh - build the rcache Python package out of the source tree and
# run its pytest suite with Debian's interpreter (ctest "python" runs this).
#
#   python/run-tests.sh [BUILD_DIR] [pytest args...]
#
# BUILD_DIR (default: a temporary directory) receives the build; nothing is
# written into the source tree.  RCACHE_PY_INSTALL_CHECK=1 also checks that
# `pip install --no-build-isolation` of a copy of the tree works offline.
# RCACHE_PY_SANITIZE=address[,undefined] (with RCACHE_PY_DEBUG=1 for -O0)
# builds the extension with sanitizers and runs the suite with the ASan
# runtime preloaded into the (uninstrumented) interpreter; leak detection
# is off there, since CPython does not free everything at exit (leaks are
# checked by the suite itself: refcounts and tracemalloc).
set -euo pipefail
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then OUT=$1; shift; else OUT=$(mktemp -d); fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

for mod in setuptools pytest pytest_asyncio; do
  if ! $PY -c "import $mod" 2>/dev/null; then
    echo "run-tests.sh: $PY lacks '$mod' (run scripts/deps.sh)" >&2; exit 1
  fi
done

# Build from a copy, so that setuptools' in-tree leftovers stay out of the
# checkout (the extension needs ../src/lib and ../include next to python/).
SRC="$OUT/src-copy"
rm -rf "$SRC"; mkdir -p "$SRC/src"
cp -r "$ROOT/include" "$SRC/include"
cp -r "$ROOT/src/lib" "$SRC/src/lib"
(cd "$HERE" && tar cf - --exclude=build --exclude='*.egg-info' --exclude=__pycache__ \
   --exclude='*.so' .) | (mkdir -p "$SRC/python" && cd "$SRC/python" && tar xf -)

(cd "$SRC/python" && $PY setup.py -q build --build-base "$OUT/build" \
   build_ext --build-lib "$OUT/lib" build_py --build-lib "$OUT/lib") >"$OUT/build.log" 2>&1 \
  || { cat "$OUT/build.log" >&2; echo "run-tests.sh: build failed" >&2; exit 1; }

if [ "${RCACHE_PY_INSTALL_CHECK:-0}" = 1 ]; then
  rm -rf "$OUT/site"
  $PY -m pip install -q --no-build-isolation --no-index --no-deps --target "$OUT/site" \
      "$SRC/python" >"$OUT/pip.log" 2>&1 || { cat "$OUT/pip.log" >&2; exit 1; }
  PYTHONPATH="$OUT/site" $PY -c "import rcache, sys; c = rcache.Cache(); c['k'] = o = object(); assert c['k'] is o"
  echo "run-tests.sh: pip install OK"
fi

if [ -n "${RCACHE_PY_SANITIZE:-}" ]; then
  case "$RCACHE_PY_SANITIZE" in
    *address*) export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
               export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 ;;
  esac
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export PYTHONMALLOC=malloc  # let ASan see every Python allocation
fi

cd "$HERE/tests"
paths=.  # the whole suite unless test files or folders are named
for a in "$@"; do [ -e "${a%%::*}" ] && paths=; done
PYTHONPATH="$OUT/lib" PYTHONDONTWRITEBYTECODE=1 exec $PY -m pytest -q -p no:cacheprovider \
  --rootdir "$HERE" -c "$HERE/tests/pytest.ini" "$@" $paths
