// The embedded Db: PGlite (PostgreSQL in WASM) in a directory under $BTW_HOME. One process
// at a time (store-lock.ts). Advisory locks are kept in this process: PGlite has a single
// session, where pg_try_advisory_lock always succeeds for a key the session already holds,
// so it could not tell two holders apart — and the store lock already keeps other processes out.

import { PGlite, types, type Results } from "@electric-sql/pglite";
import { LockLostError, OperationError } from "../errors.js";
import type { Db, Lock, LockKey, LockOptions, OpenDbOptions, Queryable, QueryResult } from "./db.js";
import { TxGuard, waitForLock } from "./db-common.js";
import { currentHolder } from "./holder.js";
import { describeLockKey, lockId } from "./lock-key.js";
import { acquireStoreLock, type StoreLock } from "./store-lock.js";

/** PGlite hands bytea over as `\x…` hex text; node-postgres gives a Buffer — match it. */
function parseBytea(text: string): Buffer {
  return Buffer.from(text.startsWith("\\x") ? text.slice(2) : text, "hex");
}

function normalize<R>(r: Results<R> | undefined): QueryResult<R> {
  if (!r) return { rows: [], rowCount: 0 };
  // node-postgres: rows for SELECT, affected rows for DML, null (→ 0) for DDL.
  const rowCount = r.fields.length > 0 ? r.rows.length : (r.affectedRows ?? 0);
  return { rows: r.rows, rowCount };
}

interface PgliteLike {
  query<R>(sql: string, params?: unknown[]): Promise<Results<R>>;
  exec(sql: string): Promise<Array<Results>>;
}

async function run<R>(target: PgliteLike, sql: string, params?: unknown[]): Promise<QueryResult<R>> {
  // Same rule as node-postgres: parameters → extended protocol (one statement);
  // none → simple protocol, several statements allowed, last result wins.
  if (params && params.length > 0) return normalize(await target.query<R>(sql, params));
  const all = await target.exec(sql);
  return normalize(all[all.length - 1] as Results<R> | undefined);
}

export async function openPgliteDb(opts: OpenDbOptions & { lockTimeoutMs: number }): Promise<Db> {
  const storeLock = await acquireStoreLock(opts.dataDir, {
    timeoutMs: opts.lockTimeoutMs,
    ...(opts.command ? { command: opts.command } : {}),
  });
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(opts.dataDir, { parsers: { [types.BYTEA]: parseBytea } });
  } catch (e) {
    await storeLock.release();
    throw new OperationError(`cannot open the embedded state store in ${opts.dataDir}: ${(e as Error).message}`, {
      code: "state-unreachable",
      hint: "check the directory's permissions and free disk space; restore it from a backup if it is damaged",
      cause: e,
    });
  }
  return new PgliteDb(pglite, storeLock, opts.lockTimeoutMs);
}

class LocalLock implements Lock {
  private done = false;
  private lost = false;
  constructor(
    readonly key: LockKey,
    readonly shared: boolean,
    private readonly onRelease: () => void,
  ) {}
  forget(): void {
    this.done = true;
    this.lost = true;
  }
  async check(): Promise<void> {
    if (this.lost) throw new LockLostError(`${describeLockKey(this.key)}'s lock`);
  }
  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.onRelease();
  }
}

class PgliteDb implements Db {
  readonly driver = "pglite" as const;
  private readonly guard = new TxGuard();
  /** lockId → its holders: one exclusive, or any number of shared ones */
  private readonly held = new Map<string, Set<LocalLock>>();
  private closed = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly storeLock: StoreLock,
    private readonly defaultLockTimeoutMs: number,
  ) {}

  async query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.guard.assertOutside("query");
    return run<R>(this.pglite, sql, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.guard.run(() =>
      this.pglite.transaction(async (t) => {
        const tx: Queryable = { query: <R>(sql: string, params?: unknown[]) => run<R>(t, sql, params) };
        return fn(tx);
      }),
    );
  }

  async tryLock(key: LockKey, opts: LockOptions = {}): Promise<Lock | null> {
    if (this.closed) throw new Error("db.tryLock() after close()");
    const id = lockId(key);
    const shared = opts.shared ?? false;
    const holders = this.held.get(id) ?? new Set<LocalLock>();
    if (holders.size > 0 && (!shared || [...holders].some((h) => !h.shared))) return null;
    const lock: LocalLock = new LocalLock(key, shared, () => {
      holders.delete(lock);
      if (holders.size === 0 && this.held.get(id) === holders) this.held.delete(id);
    });
    holders.add(lock);
    this.held.set(id, holders);
    return lock;
  }

  lock(key: LockKey, opts: LockOptions & { timeoutMs?: number } = {}): Promise<Lock> {
    // Only another async path of this very process can hold it (the store lock excludes others).
    const mode = opts.shared ? { shared: true } : {};
    return waitForLock(key, opts.timeoutMs ?? this.defaultLockTimeoutMs, () => this.tryLock(key, mode), async () => ({
      holder: currentHolder(),
      sameProcess: true,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const holders of this.held.values()) for (const lock of holders) lock.forget();
    this.held.clear();
    try {
      await this.pglite.close();
    } finally {
      await this.storeLock.release();
    }
  }
}
