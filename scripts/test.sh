#!/usr/bin/env bash
# `npm test`: the whole suite — unit, integration (a real PostgreSQL and a loopback sshd,
# installed from Debian's packages if missing) and e2e (the lab: built if missing, reused if up).
#
# Unit and integration run beside the e2e files, as a second vitest process: the e2e lanes
# spend most of their time waiting on the lab's servers, and CI's clock counts wall time.
# With arguments (`npm test -- test/e2e/edge.test.ts`), one vitest run of what is named.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/tool-binaries.sh

start=$(node -e 'console.log(Date.now())')
mkdir -p test-results
rm -f test-results/timings*.json
# A plain closing line any CI can read.
summary() {
  node -e '
    let passed = 0, failed = 0, skipped = 0;
    for (const f of process.argv.slice(1)) {
      try { const r = JSON.parse(require("fs").readFileSync(f, "utf8")); passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests; }
      catch { failed += 1; }
    }
    // The failures again, last: CI shows the end of the output, and vitest prints them before
    // the other process output and the timings.
    const failures = [];
    // errors outside any test (a hook that threw) are in the timings files, not the JSON report
    const outside = new Map();
    for (const t of require("fs").readdirSync("test-results").filter((n) => /^timings.*\.json$/.test(n))) {
      try { for (const f of JSON.parse(require("fs").readFileSync(`test-results/${t}`, "utf8")).files ?? []) if (f.errors?.length) outside.set(f.file, f.errors); } catch {}
    }
    for (const f of process.argv.slice(1)) {
      let r; try { r = JSON.parse(require("fs").readFileSync(f, "utf8")); } catch { continue; }
      for (const file of r.testResults ?? []) {
        const rel = require("path").relative(process.cwd(), file.name);
        const failedTests = (file.assertionResults ?? []).filter((a) => a.status === "failed");
        if (failedTests.length === 0 && file.status === "failed") failures.push(`${rel}: ${(file.message || (outside.get(rel) ?? []).join("\n") || "failed outside its tests").split("\n").slice(0, 12).join("\n    ")}`);
        for (const a of failedTests) failures.push(`${rel} > ${a.fullName}\n    ${(a.failureMessages ?? []).join("\n").split("\n").filter((l) => !/node_modules|<anonymous>/.test(l)).slice(0, 8).join("\n    ")}`);
      }
    }
    if (failures.length) console.log(`\nfailed (${failures.length}):\n  ${failures.join("\n  ")}`);
    console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$@"
}
reporters=(--reporter=default --reporter=./test/support/timings-reporter.ts)

if [ $# -gt 0 ]; then
  results=$(mktemp)
  status=0
  BTW_TIMINGS_QUIET=1 BTW_TIMINGS_FILE=test-results/timings-run.json npx vitest run "${reporters[@]}" --reporter=json --outputFile.json="$results" "$@" || status=$?
  node scripts/timings-summary.mjs "$start" test-results/timings-run.json
  summary "$results"
  rm -f "$results"
  exit "$status"
fi

ui_results=$(mktemp) e2e_results=$(mktemp)
# where the machine's CPU goes meanwhile (read-only sampling; printed at the end)
node scripts/cpu-profile.mjs >test-results/cpu.log 2>&1 &
cpu_pid=$!
printf '[test] unit and integration run beside the e2e lanes; their output follows the e2e output (also in test-results/unit-integration.log)\n' >&2
BTW_TIMINGS_QUIET=1 BTW_TIMINGS_FILE=test-results/timings-unit-integration.json \
  npx vitest run --project unit --project integration "${reporters[@]}" --reporter=json --outputFile.json="$ui_results" \
  >test-results/unit-integration.log 2>&1 &
ui_pid=$!
e2e_status=0 ui_status=0
BTW_TIMINGS_QUIET=1 BTW_TIMINGS_FILE=test-results/timings-e2e.json \
  npx vitest run --project e2e "${reporters[@]}" --reporter=json --outputFile.json="$e2e_results" || e2e_status=$?
wait "$ui_pid" || ui_status=$?
printf '\n[test] unit and integration (exit %s):\n' "$ui_status"
cat test-results/unit-integration.log
node scripts/timings-summary.mjs "$start" test-results/timings-unit-integration.json test-results/timings-e2e.json
kill -TERM "$cpu_pid" 2>/dev/null && wait "$cpu_pid" 2>/dev/null || true
cat test-results/cpu.log 2>/dev/null || true
summary "$ui_results" "$e2e_results"
rm -f "$ui_results" "$e2e_results"
[ "$e2e_status" = 0 ] && [ "$ui_status" = 0 ]
