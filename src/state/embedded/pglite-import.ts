// Converting a store made by btw ≤ 0.1 (PGlite files directly in $BTW_HOME/state) to the
// embedded server. Two steps, so that a crash anywhere leaves something the next command
// finishes:
//  1. setAsidePgliteStore (under the start lock and the old store lock, which keeps an older
//     btw out): the PGlite directory is renamed to state.pglite-<time> — kept, never deleted —
//     and a new state/ appears holding `import-from`, naming it.
//  2. importPendingPglite (on the running server, under an advisory lock): the schema is built
//     by the migrations the old store had applied, every table's rows are copied in one
//     transaction, sequences follow; then `import-from` goes. A transaction that committed
//     before a crash is recognised by its btw_migrations rows and not repeated.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { OperationError } from "../../errors.js";
import type { Db, Queryable } from "../db.js";
import { loadMigrations } from "../migrate.js";
import { acquireStoreLock } from "../store-lock.js";
import type { StoreLayout } from "./layout.js";

export function isPgliteStore(dir: string): boolean {
  return existsSync(path.join(dir, "PG_VERSION")) && !existsSync(path.join(dir, "pgdata"));
}

/** True when a PGlite store waits to be set aside (or a set-aside was cut between its renames). */
export function needsSetAside(l: StoreLayout): boolean {
  return isPgliteStore(l.dir) || (!existsSync(l.dir) && existsSync(`${l.dir}.new`));
}

export async function setAsidePgliteStore(l: StoreLayout, opts: { timeoutMs: number; command?: string }): Promise<void> {
  const next = `${l.dir}.new`;
  if (!existsSync(l.dir) && existsSync(next)) renameSync(next, l.dir);
  if (!isPgliteStore(l.dir)) return;
  const old = await acquireStoreLock(l.dir, { timeoutMs: opts.timeoutMs, command: opts.command ?? "convert the state store" });
  try {
    if (!isPgliteStore(l.dir)) return;
    const kept = `${l.dir}.pglite-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    rmSync(next, { recursive: true, force: true });
    mkdirSync(next, { mode: 0o700 });
    writeFileSync(path.join(next, "import-from"), `${kept}\n`, { mode: 0o600 });
    renameSync(l.dir, kept);
    renameSync(next, l.dir);
  } finally {
    await old.release();
  }
}

export async function importPendingPglite(l: StoreLayout, db: Db): Promise<void> {
  if (!existsSync(l.importMarker)) return;
  // Generous: another command may be copying a large store right now.
  const lock = await db.lock({ kind: "migrate", name: "pglite-import" }, { timeoutMs: 600_000 });
  try {
    if (!existsSync(l.importMarker)) return;
    const from = readFileSync(l.importMarker, "utf8").trim();
    await copyPgliteStore(from, db);
    rmSync(l.importMarker, { force: true });
  } finally {
    await lock.release();
  }
}

interface Row {
  [k: string]: unknown;
}

/** Copies a PGlite store's tables (schema via btw's migrations) into `db`; no-op when db already has a schema. */
export async function copyPgliteStore(from: string, db: Db): Promise<{ tables: number; rows: number }> {
  const { PGlite } = await import("@electric-sql/pglite");
  const src = await PGlite.create(from);
  try {
    const q = async <R extends Row>(sql: string) => (await src.query<R>(sql)).rows;
    const has = await q<{ t: string | null }>("select to_regclass('btw_migrations')::text as t");
    if (!has[0]?.t) return { tables: 0, rows: 0 }; // never migrated: nothing to carry over
    const applied = await q<{ name: string; checksum: string; applied_at: string }>(
      "select name, checksum, applied_at::text as applied_at from btw_migrations order by name",
    );
    const files = new Map((await loadMigrations()).map((m) => [m.name, m]));
    const unknown = applied.filter((a) => !files.has(a.name)).map((a) => a.name);
    if (unknown.length) {
      throw new OperationError(`the PGlite store ${from} has migrations this btw does not know: ${unknown.join(", ")}`, {
        code: "state-import-failed",
        hint: "upgrade btw to the version that made the store, then run any command again",
      });
    }
    const tables = (await q<{ t: string }>("select tablename as t from pg_tables where schemaname = 'public' and tablename <> 'btw_migrations' order by 1")).map((r) => r.t);
    const sequences = await q<{ s: string; v: string }>("select sequencename as s, last_value::text as v from pg_sequences where schemaname = 'public' and last_value is not null");
    let rows = 0;
    await db.transaction(async (tx) => {
      const done = await tx.query<{ t: string | null }>("select to_regclass('btw_migrations')::text as t");
      if (done.rows[0]?.t) return;
      // Same table as migrate.ts makes; its rows say which migrations the copied schema has.
      await tx.query("create table btw_migrations (name text primary key, checksum text not null, applied_at timestamptz not null default now())");
      for (const a of applied) {
        await tx.query("insert into btw_migrations (name, checksum, applied_at) values ($1, $2, $3)", [a.name, a.checksum, a.applied_at]);
        await tx.query(files.get(a.name)!.sql);
      }
      // Rows seeded by migrations are in the source too; foreign keys and triggers are off
      // for the copy (the source satisfied them), so the order of tables does not matter.
      if (tables.length) await tx.query(`truncate ${tables.map(ident).join(", ")} cascade`);
      await tx.query("set local session_replication_role = replica");
      for (const t of tables) rows += await copyTable(src, tx, t);
      for (const s of sequences) await tx.query("select setval($1::regclass, $2::bigint, true)", [ident(s.s), s.v]);
    });
    return { tables: tables.length, rows };
  } finally {
    await src.close();
  }
}

async function copyTable(src: { query<R>(sql: string): Promise<{ rows: R[] }> }, tx: Queryable, table: string): Promise<number> {
  const cols = (
    await tx.query<{ c: string }>(
      "select column_name as c from information_schema.columns where table_schema = 'public' and table_name = $1 and is_generated = 'NEVER' order by ordinal_position",
      [table],
    )
  ).rows.map((r) => ident(r.c));
  const list = cols.join(", ");
  const json = (await src.query<{ j: string }>(`select coalesce(json_agg(x), '[]')::text as j from (select ${list} from ${ident(table)}) x`)).rows[0]?.j ?? "[]";
  const r = await tx.query(
    `insert into ${ident(table)} (${list}) overriding system value select ${list} from json_populate_recordset(null::${ident(table)}, $1::json)`,
    [json],
  );
  return r.rowCount;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
