// amtool (Debian's `prometheus-alertmanager`, 0.25 on bookworm) for the Alertmanager config
// tests; installed with apt-get when missing, under the same machine-wide lock as promtool.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const AMTOOL = "/usr/bin/amtool";

export function ensureAmtool(): string {
  if (existsSync(AMTOOL)) return AMTOOL;
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) {
    throw new Error(`${AMTOOL} not found; install Debian's 'prometheus-alertmanager' package`);
  }
  const script =
    `test -x ${AMTOOL} && exit 0; echo 'test/support/amtool: installing prometheus-alertmanager with apt-get' >&2; ` +
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null";
  const r = spawnSync("flock", ["-w", "900", "/tmp/btw-apt-install.lock", "sh", "-c", script], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
  });
  if (r.error || r.status !== 0 || !existsSync(AMTOOL)) {
    throw new Error(`installing prometheus-alertmanager (amtool) failed (exit ${r.status}): ${r.error?.message ?? r.stderr.trim()}`);
  }
  return AMTOOL;
}
