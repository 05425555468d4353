// Master key ids known to the state (008_master_keys.sql): the current one and the retired
// ones. Ids only — a key never reaches the database.

import type { Queryable } from "./db.js";

export interface MasterKeyRow {
  id: string;
  status: "current" | "retired";
  createdAt: Date;
  retiredAt: Date | null;
}

async function tableExists(q: Queryable, table: string): Promise<boolean> {
  const r = await q.query<{ t: string | null }>(`select to_regclass($1)::text as t`, [table]);
  return Boolean(r.rows[0]?.t);
}

export async function listMasterKeys(q: Queryable): Promise<MasterKeyRow[]> {
  if (!(await tableExists(q, "master_keys"))) return [];
  const r = await q.query<MasterKeyRow>(
    `select id, status, created_at as "createdAt", retired_at as "retiredAt" from master_keys order by created_at, id`,
  );
  return r.rows;
}

/**
 * The ids of every key the state depends on: the current one it records and those that
 * sealed a tenant or server secret. Works on a schema of any age (tables may not exist yet).
 */
export async function keyIdsInUse(q: Queryable): Promise<string[]> {
  const ids = new Set<string>();
  for (const k of await listMasterKeys(q)) if (k.status === "current") ids.add(k.id);
  for (const table of ["tenant_secrets", "server_secrets"]) {
    if (!(await tableExists(q, table))) continue;
    const r = await q.query<{ id: string }>(`select distinct key_id as id from ${table}`);
    for (const row of r.rows) ids.add(row.id);
  }
  return [...ids].sort();
}

/** Records the key as current when the state has none yet (init). */
export async function registerFirstKey(q: Queryable, id: string): Promise<boolean> {
  const r = await q.query(
    `insert into master_keys (id, status) select $1, 'current' where not exists (select 1 from master_keys where status = 'current')
     on conflict (id) do nothing`,
    [id],
  );
  return r.rowCount > 0;
}

/** The new key becomes current; every other key is retired (in the rotation's transaction). */
export async function makeCurrent(q: Queryable, id: string): Promise<void> {
  await q.query(`update master_keys set status = 'retired', retired_at = now() where status = 'current' and id <> $1`, [id]);
  await q.query(
    `insert into master_keys (id, status) values ($1, 'current')
     on conflict (id) do update set status = 'current', retired_at = null`,
    [id],
  );
}
