// Names for shell completion (`btw __complete`), read from the state as cheaply as it can be:
// one connection, one query, a short deadline on both. The embedded server is only used when
// it already runs — starting it (initdb, a postmaster, seconds) to complete a word is worse
// than completing nothing — and nothing else of openDb runs (no migration check, no locks,
// no PGlite conversion). Any failure is the caller's to swallow.

import type pg from "pg";
import { currentHolder, formatApplicationName } from "./holder.js";

export type NameKind = "tenants" | "servers" | "backups";

const QUERIES: Record<NameKind, string> = {
  tenants: "select slug as name from tenants where status <> 'deleted' order by slug",
  servers: "select name from servers order by name",
  // completing `backup show <id>` / `--backup <id>`: the newest completed ones
  backups: "select id as name from backups where status = 'done' order by created_at desc limit 200",
};

export interface QuickReadOptions {
  /** the configured database URL; absent: the embedded store in dataDir, if it runs */
  url?: string;
  dataDir: string;
  /** for the connection and for the query, each */
  timeoutMs: number;
}

export async function quickNames(kind: NameKind, opts: QuickReadOptions): Promise<string[]> {
  const url = opts.url ?? (await runningEmbeddedUrl(opts.dataDir));
  if (!url) return [];
  await (await import("./pg-preload.js")).preloadPg();
  const { default: pgModule } = await import("pg");
  const client: pg.Client = new pgModule.Client({
    connectionString: url,
    application_name: formatApplicationName(currentHolder("__complete")),
    connectionTimeoutMillis: opts.timeoutMs,
    query_timeout: opts.timeoutMs,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    const r = await client.query<{ name: string }>(QUERIES[kind]);
    return r.rows.map((row) => row.name);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The embedded server's socket URL when it is up and ready; null otherwise (never starts it). */
async function runningEmbeddedUrl(dataDir: string): Promise<string | null> {
  const { socketUrl, storeLayout } = await import("./embedded/layout.js");
  const { readServerStatus } = await import("./embedded/server.js");
  const layout = storeLayout(dataDir);
  return readServerStatus(layout).running ? socketUrl(layout) : null;
}
