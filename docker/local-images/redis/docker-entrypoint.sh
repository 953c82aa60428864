#!/bin/sh
# Entrypoint of the local redis image: behaves like the official image's.
set -e

# `docker run herald-local/redis --appendonly yes` or `... /path/redis.conf` means redis-server with those arguments.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ]; then
  # The official build turns protected mode off by default (the port is only reachable through Docker networking);
  # Debian's keeps it on, which refuses every client from another container when no password is set. Turn it off
  # unless the command line or the config file decides.
  decided=no
  for arg in "$@"; do
    case "$arg" in *protected-mode*) decided=yes ;; esac
  done
  if [ -n "${2:-}" ] && [ -f "$2" ] && grep -Eq '^[[:space:]]*protected-mode' "$2"; then decided=yes; fi
  if [ "$decided" = no ]; then set -- "$@" --protected-mode no; fi

  # Started as root: hand /data to redis and drop privileges, as the official image does with gosu.
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi

exec "$@"
