#!/bin/sh
# The official redis image's entrypoint, plus one thing its build does: upstream compiles
# redis with protected mode off (so it answers other containers without a config file);
# Debian's binary has it on, so it is switched off here when no config file is given.
set -e

# First arg is `-f`/`--some-option` or a `*.conf` file: run redis-server with it.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "${2:-}" != '--protected-mode' ]; then
  shift
  case "${1:-}" in
    *.conf) set -- redis-server "$@" ;;
    *) set -- redis-server --protected-mode no "$@" ;;
  esac
fi

# Allow `--user`: only drop privileges when started as root.
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Keep new files private, as upstream does when the umask is the default.
if [ "$(umask)" = '0022' ]; then umask 0077; fi

exec "$@"
