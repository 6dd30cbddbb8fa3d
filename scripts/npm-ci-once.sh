#!/usr/bin/env bash
# npm-ci-once.sh - install an npm lockfile's packages into a directory once,
# safely when several tests ask at the same time.
#
# Usage: npm-ci-once.sh SRC_DIR DEST_DIR
#   SRC_DIR holds package.json and package-lock.json; DEST_DIR gets them and
#   node_modules (SRC_DIR and DEST_DIR may be the same directory).
#
# Why: `npm ci` deletes node_modules and then creates each package's
# directory before its files are written, so a caller that decides "already
# installed" from a package directory can run node against a half-written
# tree ("Cannot find module"). Here the decision and the install happen under
# one exclusive flock, and "installed" means a stamp (a copy of the lockfile)
# written only after `npm ci` succeeded; a changed lockfile reinstalls.
set -euo pipefail
src=$(cd "$1" && pwd)
mkdir -p "$2"
dest=$(cd "$2" && pwd)
stamp=$dest/node_modules/.rcache-installed-lock.json
(
  flock 9
  if ! cmp -s "$src/package-lock.json" "$stamp"; then
    if [ "$src" != "$dest" ]; then
      cp "$src/package.json" "$src/package-lock.json" "$dest/"
    fi
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error) >&2 || {
      echo "npm-ci-once.sh: npm ci failed in $dest" >&2; exit 1; }
    cp "$src/package-lock.json" "$stamp"
  fi
) 9>"$dest/.npm-ci-once.lock"
