#!/usr/bin/env bash
# deps.sh - install the Debian packages rcache needs, only those missing.
# Called by `make` targets; safe to run repeatedly (does nothing when all
# are present). Needs root (or sudo) only when something is missing.
set -euo pipefail

# Build and test dependencies, one per line: "package[:command]". With a
# command, the package is skipped when the command already exists (node and
# npm may come from elsewhere than Debian).
PKGS=(
  build-essential:cc cmake:cmake pkg-config:pkg-config
  libevent-dev libjansson-dev libxxhash-dev liblzf-dev libhiredis-dev libcmocka-dev
  zlib1g-dev liblzma-dev libbz2-dev libzstd-dev
  redis-server:redis-server redis-tools:redis-cli memcached:memcached
  libmemcached-tools:memcstat curl:curl nodejs:node npm:npm chromium:chromium
  gnuplot-nox:gnuplot prometheus:promtool clang:clang
  python3-dev python3-setuptools python3-pip python3-pytest python3-pytest-asyncio
  python3-flask python3-django python3-fastapi python3-starlette python3-httpx
  python3-cachetools
  liblua5.1-0-dev lua-cjson-dev nettle-dev python3-redis python3-django-redis
  liburing-dev
)
[ -n "${RCACHE_EXTRA_PKGS:-}" ] && read -r -a extra <<<"$RCACHE_EXTRA_PKGS" && PKGS+=("${extra[@]}")

missing=()
for spec in "${PKGS[@]}"; do
  pkg=${spec%%:*}; cmd=${spec#*:}
  if [ "$cmd" != "$spec" ]; then
    command -v "$cmd" >/dev/null 2>&1 && continue
  fi
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the servers it installs; tests start their own on free ports.
for svc in redis-server memcached prometheus; do
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
done
echo "deps.sh: done" >&2
