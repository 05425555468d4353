// promtool (from Debian's `prometheus` package) for the alert-rule and Prometheus-config
// tests. Installed with apt-get when missing — never skipped: a rule without a running test
// is a rule nobody knows works. Test files run in parallel workers and dpkg takes one writer,
// so the install runs under a machine-wide lock and re-checks under it.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const PROMTOOL = "/usr/bin/promtool";

const INSTALL_SCRIPT =
  `test -x ${PROMTOOL} && exit 0; ` +
  "echo 'test/support/promtool: promtool missing, installing prometheus with apt-get' >&2; " +
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null";

/** The path of promtool, installing Debian's `prometheus` package first if needed. */
export function ensurePromtool(): string {
  if (existsSync(PROMTOOL)) return PROMTOOL;
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) {
    throw new Error(`${PROMTOOL} not found; install Debian's 'prometheus' package (it ships promtool)`);
  }
  const r = spawnSync("flock", ["-w", "900", "/tmp/btw-apt-install.lock", "sh", "-c", INSTALL_SCRIPT], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
  });
  if (r.error || r.status !== 0) {
    throw new Error(`installing prometheus (promtool) failed (exit ${r.status}): ${r.error?.message ?? r.stderr.trim()}`);
  }
  if (!existsSync(PROMTOOL)) throw new Error(`prometheus installed but ${PROMTOOL} is still missing`);
  return PROMTOOL;
}

export interface ToolRun {
  status: number | null;
  output: string;
}

/** Run promtool with args in cwd; stdout and stderr together for assertion messages. */
export function promtool(args: readonly string[], cwd: string): ToolRun {
  const r = spawnSync(ensurePromtool(), [...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
