// PGlite is a single-process database: two processes opening the same data dir corrupt it.
// A lock file next to the store (`<dataDir>.lock`, JSON {pid, host, command, since}) lets
// one btw in at a time; a second one waits a bounded time and then fails with BusyError
// saying who is in. A lock left by a process that died on this host is taken over.
//
// The file appears atomically: it is written under a temp name and hard-linked into place,
// and link(2) fails if the name exists, so a reader never sees a half-written lock.

import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BusyError } from "../errors.js";
import { formatMs } from "./db-common.js";
import { describeHolder, type Holder } from "./holder.js";

export interface StoreLockFile extends Holder {
  since: string;
  /** distinguishes our lock from a later one by a process that reused our pid */
  token: string;
}

export interface StoreLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Lock files this process holds: a file naming our own pid is stale only if it is not here. */
const heldHere = new Set<string>();

export function storeLockPath(dataDir: string): string {
  return `${path.resolve(dataDir)}.lock`;
}

export async function acquireStoreLock(
  dataDir: string,
  opts: { timeoutMs: number; command?: string; pollMs?: number },
): Promise<StoreLock> {
  const file = storeLockPath(dataDir);
  await mkdir(path.dirname(file), { recursive: true });
  const me: StoreLockFile = {
    pid: process.pid,
    host: os.hostname(),
    ...(opts.command ? { command: opts.command } : {}),
    since: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  const deadline = Date.now() + (Number.isFinite(opts.timeoutMs) ? Math.max(0, opts.timeoutMs) : 0);
  let delay = Math.min(opts.pollMs ?? 50, 250);
  let last: StoreLockFile | null = null;

  for (;;) {
    if (!heldHere.has(file) && (await createExclusive(file, me))) {
      heldHere.add(file);
      return { path: file, release: () => releaseStoreLock(file, me.token) };
    }
    const text = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return null; // released between our attempt and the read
      throw e;
    });
    if (text === null) {
      if (!heldHere.has(file)) continue;
    } else {
      last = parseLockFile(text);
      if (last && isStale(file, last) && (await takeOver(file, text, me))) continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(delay, left)));
    delay = Math.min(delay * 2, 250);
  }
  throw storeBusyError(file, last, opts.timeoutMs);
}

async function createExclusive(file: string, content: object): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, JSON.stringify(content) + "\n", { mode: 0o644 });
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

function parseLockFile(text: string): StoreLockFile | null {
  try {
    const v = JSON.parse(text) as Partial<StoreLockFile>;
    if (typeof v.pid !== "number" || typeof v.host !== "string") return null;
    return {
      pid: v.pid,
      host: v.host,
      ...(typeof v.command === "string" ? { command: v.command } : {}),
      since: typeof v.since === "string" ? v.since : "an unknown time",
      token: typeof v.token === "string" ? v.token : "",
    };
  } catch {
    return null; // hand-edited or foreign: never guess it is stale
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Only a lock from this host can be judged: another host's pid means nothing here. */
function isStale(file: string, holder: StoreLockFile): boolean {
  if (holder.host !== os.hostname()) return false;
  if (holder.pid === process.pid) return !heldHere.has(file); // our pid, reused after a crash (containers)
  return !pidAlive(holder.pid);
}

/**
 * Replace a stale lock. Two waiters can see the same stale file; without care both would
 * delete-and-create and both believe they hold the store. A `.takeover` guard (created the
 * same exclusive way) lets one of them do it, and it removes the lock only if the file still
 * holds the stale content it judged.
 */
async function takeOver(file: string, staleText: string, me: StoreLockFile): Promise<boolean> {
  const guard = `${file}.takeover`;
  if (!(await createExclusive(guard, me))) {
    const other = parseLockFile(await readFile(guard, "utf8").catch(() => ""));
    // A guard whose owner died mid-takeover (a crash within microseconds) would block forever.
    if (other && isStale(guard, other)) await unlink(guard).catch(() => {});
    return false;
  }
  try {
    const now = await readFile(file, "utf8").catch(() => null);
    if (now === staleText) await unlink(file).catch(() => {});
    return true;
  } finally {
    await unlink(guard).catch(() => {});
  }
}

async function releaseStoreLock(file: string, token: string): Promise<void> {
  if (!heldHere.has(file)) return;
  heldHere.delete(file);
  const current = parseLockFile(await readFile(file, "utf8").catch(() => ""));
  if (current?.token === token) await unlink(file).catch(() => {});
}

function storeBusyError(file: string, holder: StoreLockFile | null, timeoutMs: number): BusyError {
  const who = holder ? describeHolder(holder) : "another process (unreadable lock file)";
  const remote = holder && holder.host !== os.hostname();
  const waited = timeoutMs > 0 ? ` (waited ${formatMs(timeoutMs)})` : "";
  return new BusyError(`the embedded state store is in use by ${who}${waited}`, {
    hint:
      "wait for that command to finish and retry (BTW_LOCK_TIMEOUT_MS sets how long to wait), or configure a " +
      "PostgreSQL database URL so several btw processes can work at once" +
      (remote || !holder ? `; if no such process is running, delete ${file}` : ""),
    details: { lockFile: file, holder: holder ? { pid: holder.pid, host: holder.host, command: holder.command, since: holder.since } : undefined },
  });
}
