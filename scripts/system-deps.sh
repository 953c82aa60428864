#!/usr/bin/env bash
# Installs the Debian packages the tests and the local cluster need, when they are missing.
# As root it installs them; otherwise it says exactly what to install and fails.
set -euo pipefail

declare -A wanted=(
  [redis-server]=redis-server
)

missing=()
for binary in "${!wanted[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("${wanted[$binary]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "herald needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "[herald] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
