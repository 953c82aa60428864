#!/bin/sh
# Entrypoint of the local nginx image, as in the official one: before starting nginx, run the executable
# /docker-entrypoint.d/*.sh scripts in order (they render templates); any other command runs as is.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  for script in /docker-entrypoint.d/*.sh; do
    [ -x "$script" ] || continue
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: running $script" >&2
    "$script"
  done
fi
exec "$@"
