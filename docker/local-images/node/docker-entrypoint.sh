#!/bin/sh
# Entrypoint of the local node image, as in the official one: run the command with node when the first argument
# is an option (`-e ...`), not a command on PATH, or a file that is not executable (`app.js`).
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" || true)" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
