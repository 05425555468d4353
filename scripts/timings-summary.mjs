// Merges the timings files of the vitest processes `npm test` ran (test/support/timings-reporter.ts)
// into test-results/timings.json, with the run's wall time, and prints the ten slowest files.
// usage: node scripts/timings-summary.mjs <run-start-epoch-ms> <timings file>...
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [start, ...inputs] = process.argv.slice(2);
const files = inputs.filter((f) => existsSync(f)).flatMap((f) => JSON.parse(readFileSync(f, "utf8")).files);
const totalSeconds = Math.round((Date.now() - Number(start)) / 100) / 10;
const secondsByProject = {};
for (const f of files) secondsByProject[f.project] = Math.round(((secondsByProject[f.project] ?? 0) + f.seconds) * 10) / 10;
files.sort((a, b) => b.seconds - a.seconds);
writeFileSync("test-results/timings.json", `${JSON.stringify({ startedAt: new Date(Number(start)).toISOString(), totalSeconds, secondsByProject, files }, null, 2)}\n`);
const min = (s) => `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
console.log(`\nnpm test: ${min(totalSeconds)} wall; time summed per project: ${Object.entries(secondsByProject).map(([p, s]) => `${p} ${min(s)}`).join(", ")}`);
console.log(`slowest ten files (of ${files.length}; all in test-results/timings.json):`);
for (const f of files.slice(0, 10)) console.log(`  ${f.seconds.toFixed(1).padStart(7)} s  ${f.project.padEnd(11)} ${f.file}${f.state === "passed" ? "" : ` (${f.state})`}`);
