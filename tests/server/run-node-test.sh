#!/usr/bin/env bash
# run-node-test.sh - run one rcached end-to-end test file with node's
# built-in test runner. Installs the npm client (ioredis) from the
# committed lockfile first unless it is already installed
# (scripts/npm-ci-once.sh: safe when parallel ctest runs ask together).
# Usage: run-node-test.sh <rcached binary> <test file>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export RCACHED_BIN=$1
test_file=$2
"$here/../../scripts/npm-ci-once.sh" "$here" "$here"
cd "$here"
exec node --test --test-reporter=spec "$test_file"
