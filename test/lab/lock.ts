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
// withDirLock is the same lock on any directory (n8n-bundle.ts: one npm install at a time).

function ownerPid(dir: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(join(dir, "pid"), "utf8"), 10);
  } catch {
    return undefined;
  }
}

function ownerAlive(dir: string): boolean {
  const pid = ownerPid(dir);
  return pid !== undefined && processAlive(pid);
}

export function withLabLock<T>(cfg: LabConfig, what: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  return withDirLock(join(tmpdir(), `${cfg.label}.lock`), what, fn, timeoutMs);
}

/**
 * Runs `fn` holding the lock directory `dir` (made by mkdir, atomic; our pid inside), after
 * waiting for its current owner; a lock whose owner died is taken over. The same process
 * waits on itself too: two calls in one process run one after the other.
 */
export async function withDirLock<T>(dir: string, what: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
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
      if (!told) say(`${what}: waiting for ${dir} (held by pid ${ownerPid(dir)})`);
      told = true;
      if (Date.now() > deadline) throw new LabError(`gave up waiting for the lock ${dir} after ${timeoutMs / 60_000} min`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
