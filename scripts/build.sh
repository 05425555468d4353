#!/usr/bin/env bash
# `npm run build`: compiles into a fresh directory, then swaps it in for dist/ by renames.
# A btw process started from dist/ loads its modules lazily; a build that rewrote dist/ in
# place let such a process (an e2e run, a cron job on a dev machine) import a half-written file.
set -euo pipefail
cd "$(dirname "$0")/.."
next="dist.next.$$"
trap 'rm -rf "$next"' EXIT
npx tsc -p tsconfig.build.json --outDir "$next"
if [ -d dist ]; then
  old="dist.old.$$"
  mv dist "$old"
  mv "$next" dist
  rm -rf "$old"
else
  mv "$next" dist
fi
