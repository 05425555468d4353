// The Db over a PostgreSQL server via node-postgres. Queries and transactions use a small
// pool; advisory locks live on one extra, dedicated session connection, because a
// session-level advisory lock belongs to the connection that took it — a pooled connection
// would hand it to whoever borrows that connection next.

import pg from "pg";
import { LockLostError, OperationError } from "../errors.js";
import type { Db, Lock, LockKey, LockOptions, OpenDbOptions, Queryable, QueryResult } from "./db.js";
import { lastResult, TxGuard, waitForLock } from "./db-common.js";
import { currentHolder, formatApplicationName, parseApplicationName, type Holder } from "./holder.js";
import { advisoryKey, advisoryKeyParts, describeLockKey, lockId } from "./lock-key.js";

const POOL_MAX = 4;

/** int8 as a number like PGlite does (counts, sums, identity ids), a bigint beyond 2^53. */
function parseInt8(v: string): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : BigInt(v);
}

function typeOverrides(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  types.setTypeParser(20, parseInt8);
  return types;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${u.username}@` : "";
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return "(unparseable database URL)";
  }
}

export async function openPgDb(opts: OpenDbOptions & { url: string; lockTimeoutMs: number }): Promise<Db> {
  const config: pg.ClientConfig = {
    connectionString: opts.url,
    application_name: formatApplicationName(currentHolder(opts.command)),
    types: typeOverrides(),
    connectionTimeoutMillis: 10_000,
    // no state query waits forever on a frozen server or a cut connection (the longest, a
    // migration or a bulk listing, takes seconds)
    query_timeout: 120_000,
    // A lock session sits idle for the minutes a `tenant create` takes; keepalives stop a
    // NAT or firewall from silently dropping it (and with it the lock).
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...config, max: POOL_MAX, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
  // An idle pooled connection dropped by the server must not crash the process; the pool
  // discards it and the next query opens a new one.
  pool.on("error", () => {});
  try {
    await pool.query("select 1");
  } catch (e) {
    await pool.end().catch(() => {});
    throw new OperationError(`cannot connect to the state database ${redactUrl(opts.url)}: ${(e as Error).message}`, {
      code: "state-unreachable",
      hint: "check that the server is up and the configured database URL (host, port, user, database) is right",
      cause: e,
    });
  }
  return new PgDb(pool, config, opts.lockTimeoutMs);
}

class PgLock implements Lock {
  private done = false;
  private lost = false;
  constructor(
    readonly key: LockKey,
    readonly shared: boolean,
    private readonly advisory: string,
    private readonly session: LockSession,
    private readonly onRelease: () => void,
  ) {}

  /** The session died or the Db closed: the server already dropped the lock. */
  forget(): void {
    this.done = true;
    this.lost = true;
  }

  async check(): Promise<void> {
    if (this.lost || !this.session.alive) throw new LockLostError(describeLockKey(this.key) + "'s lock");
    if (this.done) throw new Error(`lock ${lockId(this.key)} checked after release()`);
    // A connection cut without a FIN is only noticed by using it: one round trip, bounded.
    const ping = this.session.client.query("select 1");
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new LockLostError(describeLockKey(this.key) + "'s lock")), LOCK_PING_TIMEOUT_MS);
      t.unref();
    });
    try {
      await Promise.race([ping, timeout]);
    } catch {
      this.lost = true;
      throw new LockLostError(describeLockKey(this.key) + "'s lock");
    }
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.onRelease();
    if (!this.session.alive) return;
    const fn = this.shared ? "pg_advisory_unlock_shared" : "pg_advisory_unlock";
    await this.session.client.query(`select ${fn}($1::bigint)`, [this.advisory]).catch(() => {});
  }
}

const LOCK_PING_TIMEOUT_MS = 10_000;

interface LockSession {
  client: pg.Client;
  alive: boolean;
}

class PgDb implements Db {
  readonly driver = "pg" as const;
  private readonly guard = new TxGuard();
  /** lockId → lock; "pending" while a try is in flight, so one Db never takes a key twice */
  private readonly held = new Map<string, PgLock | "pending">();
  private session: Promise<LockSession> | null = null;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.ClientConfig,
    private readonly defaultLockTimeoutMs: number,
  ) {}

  async query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.guard.assertOutside("query");
    return lastResult<R>(await this.pool.query(sql, params));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.guard.run(async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query("begin");
        const tx: Queryable = {
          query: async <R>(sql: string, params?: unknown[]) => lastResult<R>(await client.query(sql, params)),
        };
        const result = await fn(tx);
        await client.query("commit");
        return result;
      } catch (e) {
        await client.query("rollback").catch(() => {
          broken = true; // the connection is unusable; make the pool drop it
        });
        throw e;
      } finally {
        client.release(broken);
      }
    });
  }

  private lockSession(): Promise<LockSession> {
    if (this.session) return this.session;
    const client = new pg.Client(this.config);
    const session: LockSession = { client, alive: true };
    const lost = () => {
      if (!session.alive) return;
      session.alive = false;
      if (this.session === pending) this.session = null;
      // The server released every lock of that session; holders must not unlock someone else's.
      for (const [id, lock] of this.held) {
        if (lock !== "pending") lock.forget();
        this.held.delete(id);
      }
    };
    client.on("error", lost);
    client.on("end", lost);
    const pending = client.connect().then(() => session);
    pending.catch(lost);
    this.session = pending;
    return pending;
  }

  async tryLock(key: LockKey, opts: LockOptions = {}): Promise<Lock | null> {
    if (this.closed) throw new Error("db.tryLock() after close()");
    const id = lockId(key);
    if (this.held.has(id)) return null;
    this.held.set(id, "pending");
    const shared = opts.shared ?? false;
    try {
      const session = await this.lockSession();
      const advisory = advisoryKey(key);
      const fn = shared ? "pg_try_advisory_lock_shared" : "pg_try_advisory_lock";
      const r = await session.client.query<{ ok: boolean }>(`select ${fn}($1::bigint) as ok`, [advisory]);
      if (!r.rows[0]?.ok) {
        this.held.delete(id);
        return null;
      }
      const lock: PgLock = new PgLock(key, shared, advisory, session, () => {
        if (this.held.get(id) === lock) this.held.delete(id);
      });
      this.held.set(id, lock);
      return lock;
    } catch (e) {
      this.held.delete(id);
      throw e;
    }
  }

  lock(key: LockKey, opts: LockOptions & { timeoutMs?: number } = {}): Promise<Lock> {
    const mode = opts.shared ? { shared: true } : {};
    return waitForLock(key, opts.timeoutMs ?? this.defaultLockTimeoutMs, () => this.tryLock(key, mode), () => this.findHolder(key));
  }

  /** Who holds `key`: pg_locks gives the backend pid, its application_name says which btw. */
  private async findHolder(key: LockKey): Promise<{ holder: Holder | null; sameProcess: boolean }> {
    if (this.held.get(lockId(key)) instanceof PgLock) return { holder: currentHolder(), sameProcess: true };
    const { classid, objid } = advisoryKeyParts(advisoryKey(key));
    const r = await this.pool.query<{ pid: number; application_name: string | null; backend_start: Date | null }>(
      `select l.pid, a.application_name, a.backend_start
         from pg_locks l left join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted
          and l.database = (select oid from pg_database where datname = current_database())
          and l.classid = $1::oid and l.objid = $2::oid and l.objsubid = 1
        limit 1`,
      [classid, objid],
    );
    const row = r.rows[0];
    if (!row) return { holder: null, sameProcess: false };
    const since = row.backend_start ? { since: row.backend_start.toISOString() } : {};
    const btw = parseApplicationName(row.application_name);
    if (btw) return { holder: { ...btw, ...since }, sameProcess: false };
    // Not a btw session (psql, another tool): the server-side pid is all we can name.
    return { holder: { pid: row.pid, host: "", application: row.application_name ?? "", ...since }, sameProcess: false };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lock of this.held.values()) if (lock !== "pending") lock.forget();
    this.held.clear();
    const pending = this.session;
    this.session = null;
    if (pending) {
      const session = await pending.catch(() => null);
      if (session) {
        session.alive = false;
        await session.client.end().catch(() => {});
      }
    }
    await this.pool.end();
  }
}
