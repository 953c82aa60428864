#!/usr/bin/env bash
# Installs the Debian packages the tests and the local cluster need, when they are missing.
# As root it installs them; otherwise it says exactly what to install and fails.
# With binary names as arguments (`system-deps.sh nginx redis-server`) it sees to those only.
set -euo pipefail
# nginx lives in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

# binary on PATH -> Debian package that provides it
declare -A wanted=(
  # The demo page's browser test drives headless Chromium (playwright-core, no browser download).
  [chromium]=chromium
  # The edge proxy: tests and `npm start` run their own non-daemon nginx from the rendered template.
  [nginx]=nginx
  # Engine-free structural check of docker-compose.yml (`docker-compose config`).
  [docker-compose]=docker-compose
  [redis-server]=redis-server
  [prometheus]=prometheus
  [promtool]=prometheus
)

binaries=("$@")
[ ${#binaries[@]} -eq 0 ] && binaries=("${!wanted[@]}")

missing=()
for binary in "${binaries[@]}"; do
  if [ -z "${wanted[$binary]:-}" ]; then
    echo "system-deps.sh: unknown binary '$binary' (known: ${!wanted[*]})" >&2
    exit 2
  fi
  command -v "$binary" >/dev/null 2>&1 || missing+=("${wanted[$binary]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# One package can provide several binaries.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "herald needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "[herald] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages like prometheus start a system service on install (port 9090); tests start their own on free
# ports, so forbid service starts for this install unless the machine already has a policy.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  added_policy=1
fi
cleanup() { if [ "$added_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
