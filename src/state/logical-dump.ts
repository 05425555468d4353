// A logical copy of the whole central state through SQL (no pg_dump needed, so the same on
// the embedded server and on any PostgreSQL): every table's rows as JSON, read in one
// repeatable-read snapshot; put back into a migrated, empty state in one transaction, parents
// before children, identity sequences moved past the restored ids.

import type { Db, Queryable } from "./db.js";

export interface TableDump {
  name: string;
  columns: string[];
  rows: Record<string, unknown>[];
}

export interface StateDump {
  /** migrations applied to the dumped state, in order */
  migrations: string[];
  tables: TableDump[];
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const SKIP = new Set(["btw_migrations"]);

async function tableNames(q: Queryable): Promise<string[]> {
  const r = await q.query<{ name: string }>(
    `select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`,
  );
  return r.rows.map((row) => row.name).filter((n) => !SKIP.has(n));
}

async function columns(q: Queryable, table: string): Promise<Array<{ name: string; identity: boolean }>> {
  const r = await q.query<{ name: string; identity: string }>(
    `select column_name as name, is_identity as identity from information_schema.columns
     where table_schema = current_schema() and table_name = $1 and is_generated = 'NEVER' order by ordinal_position`,
    [table],
  );
  return r.rows.map((row) => ({ name: row.name, identity: row.identity === "YES" }));
}

/** Tables ordered parents first (foreign keys), ties by name. */
export async function dependencyOrder(q: Queryable, tables: string[]): Promise<string[]> {
  const r = await q.query<{ child: string; parent: string }>(
    `select cl.relname as child, pl.relname as parent from pg_constraint c
       join pg_class cl on cl.oid = c.conrelid join pg_class pl on pl.oid = c.confrelid
       join pg_namespace n on n.oid = c.connamespace
     where c.contype = 'f' and n.nspname = current_schema() and c.conrelid <> c.confrelid`,
  );
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of r.rows) if (parents.has(child) && parents.has(parent)) parents.get(child)!.add(parent);
  const out: string[] = [];
  const done = new Set<string>();
  while (out.length < tables.length) {
    const next = tables.filter((t) => !done.has(t) && [...parents.get(t)!].every((p) => done.has(p)));
    if (next.length === 0) throw new Error(`foreign keys form a cycle among ${tables.filter((t) => !done.has(t)).join(", ")}`);
    for (const t of next.sort()) {
      out.push(t);
      done.add(t);
    }
  }
  return out;
}

export async function dumpState(db: Db): Promise<StateDump> {
  return db.transaction(async (tx) => {
    await tx.query("set transaction isolation level repeatable read, read only");
    const migrations = (await tx.query<{ name: string }>(`select name from btw_migrations order by name`)).rows.map((r) => r.name);
    const tables: TableDump[] = [];
    for (const name of await dependencyOrder(tx, await tableNames(tx))) {
      const cols = (await columns(tx, name)).map((c) => c.name);
      const r = await tx.query<{ rows: string }>(`select coalesce(json_agg(t), '[]')::text as rows from (select ${cols.map(ident).join(", ")} from ${ident(name)}) t`);
      tables.push({ name, columns: cols, rows: JSON.parse(r.rows[0]!.rows) as Record<string, unknown>[] });
    }
    return { migrations, tables };
  });
}

/** Counts of the rows that make a state "in use": restore refuses to overwrite them. */
export async function stateInUse(q: Queryable): Promise<{ servers: number; tenants: number; backups: number }> {
  const r = await q.query<{ servers: number; tenants: number; backups: number }>(
    `select (select count(*)::int from servers) as servers, (select count(*)::int from tenants) as tenants, (select count(*)::int from backups) as backups`,
  );
  return r.rows[0]!;
}

/**
 * Replaces every row of the state with the dump's, in one transaction. Columns the dump lacks
 * (it came from an older schema) take their defaults; the caller checks the migrations.
 */
export async function loadState(db: Db, dump: StateDump): Promise<Record<string, number>> {
  return db.transaction(async (tx) => {
    const present = await dependencyOrder(tx, await tableNames(tx));
    for (const t of [...present].reverse()) await tx.query(`delete from ${ident(t)}`);
    const counts: Record<string, number> = {};
    const byName = new Map(dump.tables.map((t) => [t.name, t]));
    for (const t of present) {
      const d = byName.get(t);
      if (!d || d.rows.length === 0) {
        counts[t] = 0;
        continue;
      }
      const cols = await columns(tx, t);
      const use = cols.filter((c) => d.columns.includes(c.name));
      const list = use.map((c) => ident(c.name)).join(", ");
      const override = use.some((c) => c.identity) ? " overriding system value" : "";
      await tx.query(`insert into ${ident(t)} (${list})${override} select ${list} from json_populate_recordset(null::${ident(t)}, $1::json)`, [JSON.stringify(d.rows)]);
      for (const c of use.filter((x) => x.identity)) {
        await tx.query(`select setval(pg_get_serial_sequence($1, $2), coalesce((select max(${ident(c.name)}) from ${ident(t)}), 0) + 1, false)`, [ident(t), c.name]);
      }
      counts[t] = d.rows.length;
    }
    return counts;
  });
}
