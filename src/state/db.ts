// The one interface the rest of btw uses for central state. Two drivers sit behind it:
// `pg` for a PostgreSQL server (when a URL is configured) and PGlite, Postgres compiled to
// WASM, as the embedded default under $BTW_HOME. Both drivers are imported lazily so that
// loading this file costs nothing — `btw --help` must stay instant.

export interface QueryResult<R> {
  rows: R[];
  /** rows returned (SELECT) or affected (INSERT/UPDATE/DELETE); 0 for DDL */
  rowCount: number;
}

export interface Queryable {
  /**
   * `$1`-style parameters. Without parameters the text may hold several statements (simple
   * protocol, as node-postgres does); the last statement's result is returned.
   * Types come back the same from both drivers: int8 as number (bigint beyond 2^53),
   * bytea as Buffer, jsonb parsed, timestamptz as Date, numeric as string.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export type LockKind = "tenant" | "server" | "bulk" | "migrate";
export type LockKey = { kind: LockKind; name: string };

export interface LockOptions {
  /**
   * A shared lock: any number of shared holders at once, none while an exclusive holder has
   * it (and the other way round). Backups hold a tenant's lock shared; mutations exclusive.
   */
  shared?: boolean;
}

export interface Lock {
  readonly key: LockKey;
  readonly shared: boolean;
  /**
   * Throws LockLostError when the lock is no longer held: its state connection died (the
   * server dropped every lock of that session) or the Db was closed. Long operations call it
   * between steps so a holder that lost its protection stops instead of going on unprotected.
   */
  check(): Promise<void>;
  /** idempotent */
  release(): Promise<void>;
}

export interface Db extends Queryable {
  readonly driver: "pg" | "pglite" | "embedded";
  /**
   * BEGIN … COMMIT around `fn`, ROLLBACK when it throws. Inside `fn` use `tx` only: calling
   * `db.query`/`db.transaction` there throws (with PGlite it would deadlock, with pg it would
   * silently run outside the transaction).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Session-level advisory lock; null when someone else holds it (no waiting). Locks are not
   * re-entrant: a second tryLock on a key this Db already holds also returns null.
   */
  tryLock(key: LockKey, opts?: LockOptions): Promise<Lock | null>;
  /** Waits up to timeoutMs (default: openDb's lockTimeoutMs), then throws BusyError naming the holder when known. */
  lock(key: LockKey, opts?: LockOptions & { timeoutMs?: number }): Promise<Lock>;
  /** Releases every lock this Db holds and, for PGlite, the store itself. Idempotent. */
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** postgres:// URL of a server; when absent the embedded server's store in dataDir is used */
  url?: string;
  /** the embedded store's directory ($BTW_HOME/state; embedded/layout.ts); ignored with a URL */
  dataDir: string;
  /** how long to wait for the embedded store and, by default, for lock(); default 10 s */
  lockTimeoutMs?: number;
  /**
   * What this process is doing, e.g. "tenant create acme". Whoever waits on one of our locks
   * sees it (pg: in application_name `btw:<pid>@<host>:<command>`; PGlite: in the lock file).
   */
  command?: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  // A NaN from a garbled BTW_LOCK_TIMEOUT_MS would otherwise make every wait endless.
  const t = opts.lockTimeoutMs;
  const lockTimeoutMs = t === undefined || !Number.isFinite(t) ? DEFAULT_LOCK_TIMEOUT_MS : Math.max(0, t);
  const resolved = { ...opts, lockTimeoutMs };
  await (await import("./pg-preload.js")).preloadPg();
  if (opts.url) {
    const { openPgDb } = await import("./pg-db.js");
    return openPgDb({ ...resolved, url: opts.url });
  }
  const { openEmbeddedDb } = await import("./embedded-db.js");
  return openEmbeddedDb(resolved);
}
