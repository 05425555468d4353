import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processAlive } from "../../lab/proc.js";

// The e2e files run in lanes (issue 21): up to `BTW_E2E_LANES` files at once, each on a pair of
// lab servers of its own (lane 1: lab-1 and lab-2, lane 2: lab-3 and lab-4, …). A btw state
// renders a server's whole proxy config from its own tenants, so two files must never share a
// server. vitest's VITEST_POOL_ID cannot tell lanes apart (4.1 gives concurrent files the same
// id), so a file takes a lane by lock: a directory per lane (mkdir is atomic) holding the
// owner's pid, taken before the file's own hooks (lane-setup.ts) and given back after them; a
// lane whose owner died (a killed worker) is taken over.

export const SERVERS_PER_LANE = 2;
const ENV = "BTW_E2E_LANE";

export function e2eLanes(): number {
  const n = Number(process.env.BTW_E2E_LANES ?? "2");
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new Error(`BTW_E2E_LANES must be 1..4, not ${JSON.stringify(process.env.BTW_E2E_LANES)}`);
  return n;
}

const lockDir = (lane: number) => join(tmpdir(), `btw-e2e-lane-${lane}.lock`);

function ownerOf(dir: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(join(dir, "pid"), "utf8"), 10);
  } catch {
    return undefined;
  }
}

function tryTake(lane: number): boolean {
  const dir = lockDir(lane);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const pid = ownerOf(dir);
    if (pid === process.pid) return true;
    // no pid file yet may be a lock being written this instant: only a dead owner is taken over
    if (pid === undefined || processAlive(pid)) return false;
    rmSync(dir, { recursive: true, force: true });
    return tryTake(lane);
  }
  writeFileSync(join(dir, "pid"), `${process.pid}\n`);
  return true;
}

/** Takes a free lane (1-based) for this process, waiting for one; remembers it in the environment. */
export async function takeLane(timeoutMs = 3 * 60 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let lane = 1; lane <= e2eLanes(); lane++) {
      if (tryTake(lane)) {
        process.env[ENV] = String(lane);
        return lane;
      }
    }
    if (Date.now() > deadline) throw new Error(`no free e2e lane after ${timeoutMs / 60_000} min (locks ${lockDir(1)}…)`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Gives this process's lane back. */
export function releaseLane(): void {
  const lane = Number(process.env[ENV]);
  if (!lane) return;
  const dir = lockDir(lane);
  if (ownerOf(dir) === process.pid) rmSync(dir, { recursive: true, force: true });
  delete process.env[ENV];
}

/** This file's lane, 0-based (taken by lane-setup.ts before the file's hooks). */
export function laneIndex(): number {
  const lane = Number(process.env[ENV]);
  if (!Number.isInteger(lane) || lane < 1) throw new Error(`no e2e lane taken (${ENV} unset): is test/e2e/support/lane-setup.ts in the e2e project's setupFiles?`);
  return lane - 1;
}
