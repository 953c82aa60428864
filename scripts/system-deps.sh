#!/usr/bin/env bash
# Installs the Debian packages the tests and the local cluster need, when they are missing.
# As root it installs them; otherwise it says exactly what to install and fails.
set -euo pipefail

# binary on PATH -> Debian package that provides it
declare -A wanted=(
  [redis-server]=redis-server
  # The edge proxy: tests and `npm start` run their own non-daemon nginx from a generated config.
  [nginx]=nginx
  # Engine-free structural check of docker-compose.yml (`docker-compose config -q`).
  [docker-compose]=docker-compose
)

# nginx lives in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

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

# Packages like nginx start their daemon on install (port 80) where an init system lets them. Herald runs its own
# instances, so forbid service starts for the duration of the install unless the machine already has a policy.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  own_policy=1
fi
cleanup() { [ "$own_policy" -eq 1 ] && rm -f "$policy"; return 0; }
trap cleanup EXIT

# Another install may hold the dpkg lock (other tools on the same machine): wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends)
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get "${apt_opts[@]}" install "${missing[@]}" >/dev/null
