import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { median, ms } from "./stats.js";

// `btw --help` must stay instant: heavy modules (PGlite, dockerode, cdktn, listr2, inquirer)
// load only inside the command that uses them. Baseline: a bare `node -e 0`, measured in the
// same run, interleaved with the candidates so machine noise hits all of them alike.

const root = join(import.meta.dirname, "..");
const btw = join(root, "bin", "btw");
if (!existsSync(join(root, "dist", "src", "cli", "main.js"))) {
  console.error("building first (npm run build)…");
  spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
}

const runs = Number(process.env.BENCH_RUNS ?? 15);
const cases: Record<string, string[]> = {
  "node -e 0": ["-e", "0"],
  "btw --version": [btw, "--version"],
  "btw --help": [btw, "--help"],
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));

for (let i = 0; i < runs + 2; i++) {
  for (const [name, args] of Object.entries(cases)) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    const dt = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${name} exited ${r.status}: ${r.stderr}`);
    if (i >= 2) times[name]!.push(dt); // two warm-up rounds fill the page cache
  }
}

const base = median(times["node -e 0"]!);
console.log(`startup, median of ${runs} runs each (interleaved):`);
for (const name of Object.keys(cases)) {
  const m = median(times[name]!);
  console.log(`  ${name.padEnd(14)} ${ms(m).padStart(10)}   ratio ${(m / base).toFixed(2)}×`);
}
const ratio = median(times["btw --help"]!) / base;
console.log(`goal: btw --help ≤ 2.00× node -e 0 → ${ratio <= 2 ? "met" : "NOT met"} (${ratio.toFixed(2)}×)`);
