#!/usr/bin/env bash
# run-node-test.sh - run one rcached end-to-end test file with node's
# built-in test runner. Installs the npm client (ioredis) from the
# committed lockfile first if node_modules is missing; an flock keeps
# parallel ctest runs from installing at the same time.
# Usage: run-node-test.sh <rcached binary> <test file>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export RCACHED_BIN=$1
test_file=$2
if [ ! -d "$here/node_modules/ioredis" ]; then
  (
    flock 9
    if [ ! -d "$here/node_modules/ioredis" ]; then
      cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2
    fi
  ) 9>"${TMPDIR:-/tmp}/rcache-npm-ci-$(id -u).lock"
fi
cd "$here"
exec node --test --test-reporter=spec "$test_file"
