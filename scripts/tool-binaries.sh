#!/usr/bin/env bash
# Real Compose v2 and Caddy for the template tests (test/unit/tenant, test/unit/proxy): taken
# from the lab's images — the very versions the lab's servers run — and cached on the machine.
# Sourced by scripts/test.sh; exports BTW_COMPOSE_BIN and BTW_CADDY_BIN.
set -euo pipefail
bin_dir="${BTW_LAB_HOME:-/var/lib/btw-lab}/bin"
if [ ! -x "$bin_dir/docker-compose" ] || [ ! -x "$bin_dir/caddy" ]; then
  # only the two images the binaries come from (and their base): the e2e set-up and files
  # build the rest when they need it
  printf '[setup] building the lab images vm and caddy if missing (npm run lab -- build vm caddy)\n' >&2
  npm run --silent lab -- build vm caddy >&2
  mkdir -p "$bin_dir"
  printf '[setup] extracting Compose v2 and Caddy from the lab images into %s\n' "$bin_dir" >&2
  vm=$(docker create btw-lab/vm:trixie true)
  docker cp "$vm:/usr/libexec/docker/cli-plugins/docker-compose" "$bin_dir/docker-compose"
  docker rm "$vm" >/dev/null
  caddy_image=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^btw/caddy:' | head -n1)
  c=$(docker create "$caddy_image" true)
  docker cp "$c:/usr/bin/caddy" "$bin_dir/caddy"
  docker rm "$c" >/dev/null
fi
export BTW_COMPOSE_BIN="$bin_dir/docker-compose"
export BTW_CADDY_BIN="$bin_dir/caddy"
