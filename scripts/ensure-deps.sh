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

# age: the integration test of the README's "Restoring a tenant without btw" decrypts a backup
# with Debian's age, as someone without btw would.
if ! command -v age >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "age missing: installing Debian's age with apt-get"
    apt-get install -y -qq --no-install-recommends age >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends age >/dev/null; }
  else
    say "age missing and cannot be installed here (needs root and apt-get): install it (e.g. apt-get install age)"
  fi
fi

# iptables + unshare: the unit test of the tenant isolation rules runs the generated script
# under the real iptables in a private network namespace.
for pair in iptables:iptables unshare:util-linux; do
  cmd=${pair%%:*} pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      say "$cmd missing and cannot be installed here (needs root and apt-get): apt-get install $pkg"
      continue
    fi
    say "$cmd missing: installing Debian's $pkg with apt-get"
    apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; }
  fi
done

say "compiling TypeScript (npm run build)"
npm run --silent build
