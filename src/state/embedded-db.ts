// The embedded default Db: a real PostgreSQL server under $BTW_HOME/state, started on demand
// (embedded/server.ts) and used through the same node-postgres driver as a configured
// database (pg-db.ts) over its Unix socket: one SQL dialect, one driver, real sessions, so
// advisory locks behave exactly as on the central PostgreSQL and many btw processes can
// work at once.

import type { Db, OpenDbOptions, Queryable } from "./db.js";
import { storeLayout, socketUrl, type StoreLayout } from "./embedded/layout.js";
import { importPendingPglite, needsSetAside, setAsidePgliteStore } from "./embedded/pglite-import.js";
import { ensureServer } from "./embedded/server.js";
import { openPgDb } from "./pg-db.js";

export async function openEmbeddedDb(opts: OpenDbOptions & { lockTimeoutMs: number }): Promise<Db> {
  const l = storeLayout(opts.dataDir);
  const command = opts.command;
  const beforeStart = needsSetAside(l)
    ? () => setAsidePgliteStore(l, { timeoutMs: opts.lockTimeoutMs, ...(command ? { command } : {}) })
    : undefined;
  let inner: Db | undefined;
  for (let attempt = 1; !inner; attempt++) {
    await ensureServer(l, { ...(command ? { command } : {}), ...(beforeStart ? { beforeStart } : {}) });
    try {
      inner = await openPgDb({ ...opts, url: socketUrl(l) });
    } catch (e) {
      // The server was shutting down (idle watcher, `db stop`) as we connected: start it again.
      if (attempt >= 3) throw e;
    }
  }
  try {
    await importPendingPglite(l, inner);
  } catch (e) {
    await inner.close().catch(() => {});
    throw e;
  }
  return new EmbeddedDb(inner, l);
}

/** The pg Db under its own name, so `db status`, `doctor` and `init` can say which store it is. */
class EmbeddedDb implements Db {
  readonly driver = "embedded" as const;
  constructor(
    private readonly inner: Db,
    readonly layout: StoreLayout,
  ) {}
  query: Db["query"] = (sql, params) => this.inner.query(sql, params);
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }
  tryLock: Db["tryLock"] = (...args) => this.inner.tryLock(...args);
  lock: Db["lock"] = (...args) => this.inner.lock(...args);
  close: Db["close"] = () => this.inner.close();
}
