#!/usr/bin/env bash
# Prepares a machine that cannot pull from any container registry for Herald's Docker suites and compose stack:
#   1. installs the Docker engine (Debian docker.io) and debootstrap when missing;
#   2. starts dockerd in the background when no engine answers (CI machines have no systemd);
#   3. installs the Docker Compose v2 and buildx CLI plugins from Debian trixie packages (bookworm has neither);
#   4. makes a Debian base image with debootstrap from the mirror apt already uses;
#   5. builds local stand-ins for the official redis, node, nginx and prometheus images (docker/local-images/).
# Idempotent: each stage checks first and skips what is done. Progress goes to stderr; the `export X_IMAGE=...`
# lines go to stdout and to .tmp/docker-local.env. Root only. Decisions and overrides: docs/docker.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo bash scripts/docker-local.sh

Installs and starts a Docker engine, the compose/buildx plugins and local base images, without any registry.
Environment (all optional):
  HERALD_DEBIAN_MIRROR    Debian mirror for debootstrap, image builds and the trixie plugins (default: apt's own)
  HERALD_DOCKER_CACHE     cache for the base tarball and downloads (default /var/cache/herald/docker-local)
  HERALD_DOCKERD_LOG      log of a dockerd this script starts (default /var/log/herald/dockerd.log)
  HERALD_DOCKERD_IP       default host address of published ports for that dockerd (default 127.0.0.1)
  HERALD_DOCKER_ENV_FILE  where the export lines are written (default <project>/.tmp/docker-local.env)
  HERALD_EXTRA_CA_DIR     CA certificates (*.crt) the images trust (default /usr/local/share/ca-certificates)
  HERALD_NODE_VERSION     Node version of the local node image (default: the project's pinned `node` package)
  HERALD_NPM_VERSION      npm version or range in the local node image (default 11)
EOF
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  '') ;;
  *) usage >&2; exit 64 ;;
esac

log() { printf '[docker-local] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  die "must run as root: it installs Debian packages (docker.io, debootstrap), starts dockerd, writes" \
    "/usr/local/lib/docker/cli-plugins and builds images. Run: sudo bash scripts/docker-local.sh"
fi
command -v apt-get >/dev/null 2>&1 || die "needs a Debian-based machine (apt-get, dpkg); see docs/docker.md for others"

# dockerd, debootstrap and iptables live in /usr/sbin, which a minimal PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=bookworm # the Debian release of the official images Herald uses (node:24-bookworm-slim)
plugin_suite=trixie
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# Certificate authorities this machine added (a TLS-inspecting proxy's, a private registry's): the images trust them too.
extra_ca_dir=${HERALD_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
cache=${HERALD_DOCKER_CACHE:-/var/cache/herald/docker-local}
dockerd_log=${HERALD_DOCKERD_LOG:-/var/log/herald/dockerd.log}
dockerd_ip=${HERALD_DOCKERD_IP:-127.0.0.1}
env_file=${HERALD_DOCKER_ENV_FILE:-$root/.tmp/docker-local.env}
npm_version=${HERALD_NPM_VERSION:-11}
log_dir=$cache/logs
label=org.herald.local-image.recipe

base_image=herald-local/debian:$suite
redis_image=herald-local/redis:$suite
node_image=herald-local/node:24-$suite
nginx_image=herald-local/nginx:$suite
prometheus_image=herald-local/prometheus:$suite

mkdir -p "$cache" "$log_dir"
# Two runs at once (CI and a developer) would race on apt, dockerd and the same image tags.
exec 9>"$cache/.lock"
flock -w 3600 9 || die "another docker-local.sh run holds $cache/.lock"

timings=()
stage() {
  local name=$1 start=$EPOCHREALTIME
  shift
  "$@"
  timings+=("$(awk -v n="$name" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%-26s %6.1f s", n, b - a }')")
}

# "<uri> <suite>" for every Debian suite apt is configured with (main component), one call: apt takes a second.
apt_suites() {
  # shellcheck disable=SC2016 # apt's own $(FIELD) placeholders
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
    awk '$3 == "main" { sub(/\/$/, "", $1); print $1, $2 }' | sort -u
}

# The Debian mirror apt uses for this machine's release, unless overridden.
debian_mirror() {
  if [ -n "${HERALD_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "${HERALD_DEBIAN_MIRROR%/}"
    return
  fi
  local codename
  # shellcheck disable=SC1091
  codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  awk -v want="$codename" '$2 == want { print $1; exit }' <<<"$suites"
}

# The URI apt uses for <suite>-security, if any: the base image gets the same security updates as the machine.
security_mirror() { awk -v want="$suite-security" '$2 == want { print $1; exit }' <<<"$suites"; }

image_recipe() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
hash16() { sha256sum | cut -c1-16; }

# 1. Packages ---------------------------------------------------------------------------------------------------
apt_install() {
  # Without an init system a package's postinst may still try to start its service (docker.io does): forbid it,
  # unless the machine has its own policy.
  local policy=/usr/sbin/policy-rc.d own=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    own=1
  fi
  {
    apt-get -o DPkg::Lock::Timeout=300 update -qq &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null
  } || rc=$?
  [ "$own" -eq 0 ] || rm -f "$policy"
  return "$rc"
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages: dockerd and debootstrap present"
    return
  fi
  log "packages: installing ${missing[*]}"
  apt_install "${missing[@]}" || die "packages: apt-get could not install ${missing[*]}"
}

# 2. Engine -----------------------------------------------------------------------------------------------------
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# Waits until `docker info` answers; gives up early when the given dockerd pid has exited.
wait_for_engine() {
  local pid=$1 deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    engine_answers && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

daemon_json_sets() { grep -q "\"$1\"" /etc/docker/daemon.json 2>/dev/null; }

start_engine() {
  if engine_answers; then
    log "engine: answers ($(docker info -f 'server {{.ServerVersion}}, storage {{.Driver}}'))"
    return
  fi
  if pgrep -x dockerd >/dev/null; then
    log "engine: a dockerd runs but does not answer yet; waiting"
    wait_for_engine "" 120 || die "engine: the running dockerd does not answer 'docker info' within 120 s"
    return
  fi
  mkdir -p "$(dirname "$dockerd_log")"
  local drivers=(overlay2 vfs) driver pid args
  # A data root made earlier with vfs stays on vfs: its images would be invisible to overlay2.
  if [ -d /var/lib/docker/vfs ] && [ ! -d /var/lib/docker/overlay2 ]; then drivers=(vfs); fi
  for driver in "${drivers[@]}"; do
    args=()
    # A setting in daemon.json and the same flag make dockerd refuse to start: the file wins.
    daemon_json_sets storage-driver || args+=("--storage-driver=$driver")
    # Published ports listen on loopback unless a test asks otherwise (nothing else may receive traffic).
    daemon_json_sets ip || args+=("--ip=$dockerd_ip")
    log "engine: starting dockerd ${args[*]} (log: $dockerd_log)"
    # Own session: dockerd outlives this script and whatever process group runs it. It must not inherit the
    # lock (fd 9), or it would hold it for as long as it runs.
    setsid nohup dockerd "${args[@]}" >>"$dockerd_log" 2>&1 </dev/null 9>&- &
    pid=$!
    if wait_for_engine "$pid" 90; then
      log "engine: up, pid $pid ($(docker info -f 'server {{.ServerVersion}}, storage {{.Driver}}'))"
      return
    fi
    log "engine: dockerd with storage $driver did not come up; last log lines:"
    tail -n 5 "$dockerd_log" >&2 || true
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      local deadline=$((SECONDS + 30))
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    fi
  done
  die "engine: dockerd did not start; see $dockerd_log"
}

# 3. CLI plugins ------------------------------------------------------------------------------------------------
install_cli_plugins() {
  if docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    log "plugins: $(docker compose version), $(docker buildx version | cut -d' ' -f1,2)"
    return
  fi
  # A private apt universe for trixie: its own sources, lists and caches, so the machine's apt setup and
  # package database are untouched. The packages are only downloaded and unpacked, never installed.
  local dir=$cache/apt-$plugin_suite arch
  arch=$(dpkg --print-architecture)
  rm -rf "$dir/debs"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d" "$dir/debs"
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$plugin_suite" >"$dir/sources.list"
  local apt=(apt-get -q
    -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/sources.list.d"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
    -o "APT::Architectures=$arch" -o Acquire::Languages=none -o APT::Sandbox::User=root)
  log "plugins: downloading docker-compose and docker-buildx from $mirror $plugin_suite"
  "${apt[@]}" update >"$log_dir/apt-$plugin_suite.log" 2>&1 ||
    { tail -n 20 "$log_dir/apt-$plugin_suite.log" >&2; die "plugins: apt-get update for $plugin_suite failed"; }
  (cd "$dir/debs" && "${apt[@]}" download docker-compose docker-buildx >>"$log_dir/apt-$plugin_suite.log" 2>&1) ||
    { tail -n 20 "$log_dir/apt-$plugin_suite.log" >&2; die "plugins: downloading the $plugin_suite packages failed"; }
  local unpacked plugin file
  unpacked=$(mktemp -d)
  for file in "$dir"/debs/*.deb; do dpkg-deb -x "$file" "$unpacked"; done
  install -d /usr/local/lib/docker/cli-plugins
  for plugin in docker-compose docker-buildx; do
    file=$(find "$unpacked" -type f -path "*/cli-plugins/$plugin" | head -n 1)
    [ -n "$file" ] || die "plugins: no cli-plugins/$plugin in the $plugin_suite package"
    install -m 0755 "$file" "/usr/local/lib/docker/cli-plugins/$plugin"
  done
  rm -rf "$unpacked"
  docker compose version >/dev/null 2>&1 || die "plugins: 'docker compose version' fails after install"
  docker buildx version >/dev/null 2>&1 || die "plugins: 'docker buildx version' fails after install"
  log "plugins: $(docker compose version), $(docker buildx version | cut -d' ' -f1,2)"
}

# 4. Base image -------------------------------------------------------------------------------------------------
rootfs=
cleanup_rootfs() {
  [ -n "$rootfs" ] && [ -d "$rootfs" ] || return 0
  # debootstrap mounts /proc and /sys inside the target; never delete through a mount that a failure left behind.
  local mount
  awk -v r="$rootfs" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mount; do
    umount -l "$mount" || true
  done
  rm -rf --one-file-system "$rootfs"
  rootfs=
}
trap cleanup_rootfs EXIT

# What official Debian images add to a plain debootstrap, and what Herald's images rely on.
tweak_rootfs() {
  rm -f "$rootfs/etc/apt/sources.list" "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: %s\n' \
      "$mirror" "$suite" "$suite" "$keyring"
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
        "$security" "$suite" "$keyring"
    fi
  } >"$rootfs/etc/apt/sources.list.d/debian.sources"
  # No init system in a container: package installs must not try to start their services.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  # Like the -slim images: no documentation in image layers.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  if [ -n "$(extra_ca_files)" ]; then
    cp -a "$extra_ca_dir/." "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >>"$log_dir/debootstrap.log" 2>&1
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/*
}

extra_ca_files() {
  if [ -d "$extra_ca_dir" ]; then (cd "$extra_ca_dir" && find . -name '*.crt' | LC_ALL=C sort); fi
}

build_base_image() {
  # Bump the first word when tweak_rootfs changes.
  local recipe
  recipe=$({
    printf '%s\n' base-v2 "$suite" "$mirror" "$security"
    extra_ca_files | (cd "$extra_ca_dir" 2>/dev/null && xargs -r sha256sum)
  } | hash16)
  if [ "$(image_recipe "$base_image")" = "$recipe" ]; then
    log "base: $base_image is current"
    return
  fi
  local tarball=$cache/debian-$suite-minbase-$recipe.tar
  if [ ! -s "$tarball" ]; then
    rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
    # ca-certificates: https mirrors and registries, and the machine's own CAs (tweak_rootfs).
    log "base: debootstrap --variant=minbase $suite from $mirror"
    debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$log_dir/debootstrap.log" 2>&1 ||
      { tail -n 20 "$log_dir/debootstrap.log" >&2; die "base: debootstrap failed (full log: $log_dir/debootstrap.log)"; }
    tweak_rootfs
    tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    cleanup_rootfs
    # Older tarballs (other mirror or recipe) are dead weight.
    find "$cache" -maxdepth 1 -name "debian-$suite-minbase-*.tar" ! -name "${tarball##*/}" -delete
  fi
  log "base: docker import $base_image"
  docker import --change "LABEL $label=$recipe" --change 'CMD ["bash"]' "$tarball" "$base_image" >/dev/null
}

# 5. Local stand-ins for the official images --------------------------------------------------------------------
project_node_version() {
  [ -n "${HERALD_NODE_VERSION:-}" ] && { printf '%s\n' "$HERALD_NODE_VERSION"; return; }
  sed -n '/"node_modules\/node": {/,/}/ s/.*"version": "\([^"]*\)".*/\1/p' "$root/package-lock.json" | head -n 1
}

# The node image needs the Node binary and npm: both come from the npm registry (packages node-linux-<arch>
# and npm), fetched on the host with its own npm client and configuration, so the build itself needs no registry.
fetch_node_tarballs() {
  local context=$1 node_version=$2 arch packed
  case "$(dpkg --print-architecture)" in
    amd64) arch=x64 ;;
    arm64) arch=arm64 ;;
    *) die "node: no node-linux package for $(dpkg --print-architecture)" ;;
  esac
  command -v npm >/dev/null 2>&1 || die "node: needs npm on the host to fetch Node $node_version and npm"
  mkdir -p "$cache/npm"
  if [ ! -s "$cache/npm/node-linux-$arch-$node_version.tgz" ]; then
    (cd "$cache/npm" && npm pack --silent "node-linux-$arch@$node_version" >/dev/null) ||
      die "node: 'npm pack node-linux-$arch@$node_version' failed"
  fi
  packed=$(cd "$cache/npm" && npm pack --silent "npm@$npm_version" | tail -n 1) ||
    die "node: 'npm pack npm@$npm_version' failed"
  cp "$cache/npm/node-linux-$arch-$node_version.tgz" "$context/node.tgz"
  cp "$cache/npm/$packed" "$context/npm.tgz"
}

build_local_image() {
  local name=$1 image=$2 source=$root/docker/local-images/$1 recipe context
  shift 2
  recipe=$({
    printf '%s\n' "$@"
    docker image inspect -f '{{.Id}}' "$base_image"
    (cd "$source" && find . -type f | LC_ALL=C sort | xargs sha256sum)
  } | hash16)
  if [ "$(image_recipe "$image")" = "$recipe" ]; then
    log "image: $image is current"
    return
  fi
  context=$cache/context/$name
  rm -rf "$context"
  mkdir -p "$context"
  cp -a "$source/." "$context/"
  if [ "$name" = node ]; then fetch_node_tarballs "$context" "$node_version"; fi
  local build_args=(--build-arg "BASE_IMAGE=$base_image") arg
  for arg in "$@"; do build_args+=(--build-arg "$arg"); done
  log "image: building $image (log: $log_dir/build-$name.log)"
  docker build --label "$label=$recipe" "${build_args[@]}" -t "$image" "$context" >"$log_dir/build-$name.log" 2>&1 ||
    { tail -n 30 "$log_dir/build-$name.log" >&2; die "image: building $image failed"; }
  rm -rf "$context"
}

prune_replaced_images() {
  # A rebuilt tag leaves its previous image dangling; remove only those that carry our label.
  docker image prune -f --filter "label=$label" >/dev/null
}

# Run ------------------------------------------------------------------------------------------------------------
stage "packages" install_packages
suites=$(apt_suites)
mirror=$(debian_mirror)
[ -n "$mirror" ] || die "no Debian mirror for this machine's release in apt's sources; set HERALD_DEBIAN_MIRROR"
security=$(security_mirror)
log "mirror: $mirror${security:+ (security: $security)}"
stage "engine" start_engine
stage "cli plugins" install_cli_plugins
stage "base image" build_base_image
node_version=$(project_node_version)
[ -n "$node_version" ] || die "node: cannot read the pinned node version from package-lock.json; set HERALD_NODE_VERSION"
stage "image redis" build_local_image redis "$redis_image"
stage "image node" build_local_image node "$node_image" "NODE_VERSION=$node_version" "NPM_VERSION=$npm_version"
stage "image nginx" build_local_image nginx "$nginx_image"
stage "image prometheus" build_local_image prometheus "$prometheus_image"
prune_replaced_images

exports=$(
  cat <<EOF
# Written by scripts/docker-local.sh: local stand-ins for the official images, for machines without a registry.
# Grafana has no Debian package, so there is no local GRAFANA_IMAGE (see docs/docker.md).
export DEBIAN_IMAGE=$base_image
export REDIS_IMAGE=$redis_image
export NODE_IMAGE=$node_image
export NGINX_IMAGE=$nginx_image
export PROMETHEUS_IMAGE=$prometheus_image
# testcontainers: its Ryuk reaper image cannot be pulled; tests stop their own containers.
export TESTCONTAINERS_RYUK_DISABLED=true
EOF
  # Docker's own marker file makes testcontainers think it runs in a container and look for the engine elsewhere.
  if [ -e /.dockerenv ]; then printf 'export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1\n'; fi
)
mkdir -p "$(dirname "$env_file")"
printf '%s\n' "$exports" >"$env_file"

log "done; dockerd stays running. Stage times:"
for line in "${timings[@]}"; do log "  $line"; done
log "environment written to $env_file (source it, or eval this script's output)"
printf '%s\n' "$exports"
