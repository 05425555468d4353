import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabConfig } from "./config.js";
import { LabError } from "./errors.js";
import { say, sleep } from "./log.js";
import { processAlive } from "./proc.js";

// One lab, many users: the CLI, and every vitest run's global set-up, may call `up` at the
// same moment. A lock directory (mkdir is atomic) holding the owner's pid serialises them;
// a lock whose owner died is taken over. It lives in the temp folder, not the lab home: the
// engine's names (network btw-lab, lab-1, …) are machine-wide whatever BTW_LAB_HOME says.

function ownerAlive(dir: string): boolean {
  try {
    return processAlive(Number.parseInt(readFileSync(join(dir, "pid"), "utf8"), 10));
  } catch {
    return false;
  }
}

export async function withLabLock<T>(cfg: LabConfig, what: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  const dir = join(tmpdir(), `${cfg.label}.lock`);
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "pid"), `${process.pid}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock without a pid file may be one being written this instant: give it a moment.
      await sleep(200);
      if (!ownerAlive(dir)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!told) say(`${what}: waiting for another lab command to finish (lock ${dir})`);
      told = true;
      if (Date.now() > deadline) throw new LabError(`gave up waiting for the lab lock ${dir} after ${timeoutMs / 60_000} min`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
