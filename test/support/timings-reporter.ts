import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

// Where the suite's time goes (issue 21): each file's wall time (queued → finished, so set-up
// and hooks count), its project and outcome, and the run's total, written to
// test-results/timings.json as the run goes (a run cut short still leaves what it measured)
// and the ten slowest files printed at the end. CI's 90 minutes are spent here first.

interface FileTiming {
  file: string;
  project: string;
  state: string;
  startedAt: string;
  seconds: number;
  /** its tests over a second, slowest first: where inside the file the time goes */
  tests?: { name: string; seconds: number }[];
  /** errors outside any test (a beforeAll/afterAll that threw, a collection error): vitest's
   * JSON report leaves them out, so a file "failed outside its tests" said nothing of why */
  errors?: string[];
}

// scripts/test.sh runs unit+integration and e2e as two vitest processes at once: each writes
// its own file (BTW_TIMINGS_FILE) and scripts/timings-summary.mjs merges them and prints.
const OUT_FILE = process.env.BTW_TIMINGS_FILE ?? join("test-results", "timings.json");
const OUT_DIR = dirname(OUT_FILE);
const QUIET = process.env.BTW_TIMINGS_QUIET === "1";

export default class TimingsReporter implements Reporter {
  private readonly runStart = Date.now();
  private readonly started = new Map<string, number>();
  private readonly files: FileTiming[] = [];

  onTestModuleStart(module: TestModule): void {
    this.started.set(module.moduleId, Date.now());
  }

  onTestModuleEnd(module: TestModule): void {
    const start = this.started.get(module.moduleId) ?? Date.now() - module.diagnostic().duration;
    const errors = outsideErrors(module);
    this.files.push({
      file: relative(process.cwd(), module.moduleId),
      project: module.project.name,
      state: module.state(),
      startedAt: new Date(start).toISOString(),
      seconds: Math.round((Date.now() - start) / 100) / 10,
      tests: [...module.children.allTests()]
        .map((t) => ({ name: t.fullName, seconds: Math.round((t.diagnostic()?.duration ?? 0) / 100) / 10 }))
        .filter((t) => t.seconds >= 1)
        .sort((a, b) => b.seconds - a.seconds),
      ...(errors.length ? { errors } : {}),
    });
    this.write(false);
  }

  onTestRunEnd(): void {
    this.write(true);
    if (QUIET) return;
    const slowest = [...this.files].sort((a, b) => b.seconds - a.seconds).slice(0, 10);
    const total = (Date.now() - this.runStart) / 1000;
    const lines = slowest.map((f) => `  ${f.seconds.toFixed(1).padStart(7)} s  ${f.project.padEnd(11)} ${f.file}${f.state === "passed" ? "" : ` (${f.state})`}`);
    process.stdout.write(`\nslowest ten files (of ${this.files.length}; total ${fmt(total)}; all in ${OUT_FILE}):\n${lines.join("\n")}\n`);
  }

  private write(finished: boolean): void {
    const totalSeconds = Math.round((Date.now() - this.runStart) / 100) / 10;
    const byProject: Record<string, number> = {};
    for (const f of this.files) byProject[f.project] = Math.round(((byProject[f.project] ?? 0) + f.seconds) * 10) / 10;
    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(
      OUT_FILE,
      `${JSON.stringify({ startedAt: new Date(this.runStart).toISOString(), finished, totalSeconds, secondsByProject: byProject, files: [...this.files].sort((a, b) => b.seconds - a.seconds) }, null, 2)}\n`,
    );
  }
}

function outsideErrors(module: TestModule): string[] {
  const out: string[] = [];
  for (const suite of [module, ...module.children.allSuites()]) {
    for (const e of suite.errors()) {
      const where = suite.type === "module" ? "" : `${suite.fullName}: `;
      const stack = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l) && !/node_modules|node:internal/.test(l)).slice(0, 3);
      out.push([`${where}${e.name ?? "Error"}: ${e.message}`.slice(0, 2000), ...stack.map((l) => l.trim())].join("\n"));
    }
  }
  return out;
}

function fmt(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}
