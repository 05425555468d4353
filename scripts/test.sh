#!/usr/bin/env bash
# `npm test`: the whole suite — unit, integration (a real PostgreSQL and a loopback sshd,
# installed from Debian's packages if missing) and e2e (the lab: built if missing, reused if up).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/tool-binaries.sh

results=$(mktemp)
status=0
# test-results/timings.json: each file's wall time and the total; the ten slowest printed last.
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" --reporter=./test/support/timings-reporter.ts "$@" || status=$?
# A plain closing line any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$results" 2>/dev/null || echo "tests: 0 passed, 1 failed"
rm -f "$results"
exit "$status"
