// Who is connected to the embedded server, for `btw db stop` (which will not cut off another
// btw's work unless told to) and `btw doctor`.

import pg from "pg";
import { describeHolder, parseApplicationName } from "../holder.js";
import type { StoreLayout } from "./layout.js";

export interface Session {
  pid: number;
  application: string;
  /** "pid 1234 on host (btw tenant create acme)" when it is a btw */
  who: string;
}

export async function listSessions(l: StoreLayout): Promise<Session[]> {
  const c = new pg.Client({ host: l.socketDir, port: l.port, user: "postgres", database: "postgres", application_name: "btw:db-stop" });
  c.on("error", () => {});
  await c.connect();
  try {
    const r = await c.query<{ pid: number; app: string | null }>(
      "select pid, application_name as app from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() and application_name <> 'btw:idle-watch'",
    );
    return r.rows.map((row) => {
      const btw = parseApplicationName(row.app);
      return { pid: row.pid, application: row.app ?? "", who: btw ? describeHolder(btw) : `${row.app || "a client"} (server pid ${row.pid})` };
    });
  } finally {
    await c.end().catch(() => {});
  }
}

/** Bytes of the database and of the whole data directory (WAL included). */
export async function storeSize(db: { query<R>(sql: string): Promise<{ rows: R[] }> }): Promise<number> {
  const r = await db.query<{ n: number }>("select pg_database_size(current_database())::int8 as n");
  return Number(r.rows[0]?.n ?? 0);
}
