// `btw doctor`'s view of the state store: is it answering, how big is it, and for the
// embedded server where it runs. Old PGlite copies kept by the conversion are pointed out.

import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Db } from "../db.js";
import { storeLayout } from "./layout.js";
import { readServerStatus } from "./server.js";

export async function storeHealth(db: Db, home: string): Promise<string> {
  const t0 = Date.now();
  const r = await db.query<{ n: number; v: string }>("select pg_database_size(current_database())::int8 as n, current_setting('server_version') as v");
  const rtt = Date.now() - t0;
  const size = Number(r.rows[0]?.n ?? 0);
  const parts = [`PostgreSQL ${r.rows[0]?.v}`, `answered in ${rtt} ms`, `database ${formatBytes(size)}`];
  if (db.driver === "embedded") {
    const l = storeLayout(path.join(home, "state"));
    const st = readServerStatus(l);
    parts.push(`data dir ${formatBytes(dirBytes(l.pgdata))}`, st.running ? `server pid ${st.pid} since ${st.since}, socket ${st.socket}` : "server not running");
    const kept = readdirSync(home).filter((n) => n.startsWith("state.pglite-"));
    if (kept.length) parts.push(`former PGlite store kept as ${kept.join(", ")} (delete it once you no longer need it)`);
  }
  return parts.join(", ");
}

function dirBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}
