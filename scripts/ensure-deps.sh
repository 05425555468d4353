#!/usr/bin/env bash
# Installs what `npm test` and `npm run demo` need and is missing, saying what it does.
# Sourced by scripts/test.sh and scripts/demo.sh; safe to run again (does nothing then).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "compiling TypeScript (npm run build)"
npm run --silent build
