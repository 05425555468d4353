// Pieces both drivers share: the guard against using the Db inside its own transaction,
// the wait loop of lock(), and the BusyError it ends with.

import { AsyncLocalStorage } from "node:async_hooks";
import { BusyError } from "../errors.js";
import type { Lock, LockKey, QueryResult } from "./db.js";
import { describeHolder, type Holder } from "./holder.js";
import { describeLockKey, lockId } from "./lock-key.js";

/**
 * Marks the async context of a running transaction so that a stray `db.query` inside it
 * fails loudly instead of deadlocking (PGlite serialises everything on one connection) or
 * escaping the transaction (pg takes another pool connection).
 */
export class TxGuard {
  private readonly als = new AsyncLocalStorage<{ open: boolean }>();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOutside("transaction");
    const ctx = { open: true };
    try {
      return await this.als.run(ctx, fn);
    } finally {
      ctx.open = false;
    }
  }

  assertOutside(what: string): void {
    if (this.als.getStore()?.open) {
      throw new Error(`db.${what}() called inside db.transaction(); use the transaction's handle`);
    }
  }
}

type RawResult = { rows: unknown[]; rowCount?: number | null };

/** node-postgres returns an array for multi-statement text; keep the last result like PGlite exec. */
export function lastResult<R>(r: RawResult | RawResult[]): QueryResult<R> {
  const one = Array.isArray(r) ? r[r.length - 1] : r;
  if (!one) return { rows: [], rowCount: 0 };
  return { rows: one.rows as R[], rowCount: one.rowCount ?? 0 };
}

const POLL_MIN_MS = 25;
const POLL_MAX_MS = 250;

/**
 * Polls `attempt` until it yields a lock or `timeoutMs` passes. Polling (rather than a
 * blocking pg_advisory_lock) keeps one session able to serve many keys, and works the same
 * for PGlite's in-process locks.
 */
export async function waitForLock(
  key: LockKey,
  timeoutMs: number,
  attempt: () => Promise<Lock | null>,
  findHolder: () => Promise<{ holder: Holder | null; sameProcess: boolean }>,
): Promise<Lock> {
  const deadline = Date.now() + (Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : 0);
  let delay = POLL_MIN_MS;
  for (;;) {
    const lock = await attempt();
    if (lock) return lock;
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(delay, left)));
    delay = Math.min(delay * 2, POLL_MAX_MS);
  }
  const { holder, sameProcess } = await findHolder().catch(() => ({ holder: null, sameProcess: false }));
  throw lockBusyError(key, timeoutMs, holder, sameProcess);
}

export function lockBusyError(key: LockKey, timeoutMs: number, holder: Holder | null, sameProcess: boolean): BusyError {
  const who = sameProcess ? "this btw process itself" : holder ? describeHolder(holder) : "another session";
  const waited = timeoutMs > 0 ? ` (waited ${formatMs(timeoutMs)})` : "";
  return new BusyError(`${describeLockKey(key)} is locked by ${who}${waited}`, {
    hint: sameProcess
      ? "a btw code path takes the same lock twice; this is a bug"
      : "another btw is working on it; retry when it has finished (BTW_LOCK_TIMEOUT_MS sets how long to wait)",
    details: { lock: lockId(key), holder: holder ?? undefined },
  });
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
