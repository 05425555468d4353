// Tenant secrets as stored: ciphertext sealed by src/secrets under a master key. This module
// never sees plaintext, and its errors never carry the bytes.

import type { Queryable } from "./db.js";

export interface TenantSecretRow {
  tenantId: number;
  /** e.g. POSTGRES_PASSWORD, N8N_ENCRYPTION_KEY */
  name: string;
  /** which master key sealed it */
  keyId: string;
  ciphertext: Buffer;
  createdAt: Date;
  updatedAt: Date;
}

export interface TenantSecretInput {
  name: string;
  keyId: string;
  ciphertext: Uint8Array;
}

const COLUMNS = `tenant_id as "tenantId", name, key_id as "keyId", ciphertext,
  created_at as "createdAt", updated_at as "updatedAt"`;

/** Insert or replace one secret (re-running a step re-seals the same name). */
export async function putTenantSecret(q: Queryable, tenantId: number, s: TenantSecretInput): Promise<void> {
  await q.query(
    `insert into tenant_secrets (tenant_id, name, key_id, ciphertext) values ($1, $2, $3, $4)
     on conflict (tenant_id, name) do update set key_id = excluded.key_id, ciphertext = excluded.ciphertext, value_set_at = now()`,
    [tenantId, s.name, s.keyId, Buffer.from(s.ciphertext.buffer, s.ciphertext.byteOffset, s.ciphertext.byteLength)],
  );
}

export async function putTenantSecrets(q: Queryable, tenantId: number, secrets: TenantSecretInput[]): Promise<void> {
  for (const s of secrets) await putTenantSecret(q, tenantId, s);
}

export async function getTenantSecret(q: Queryable, tenantId: number, name: string): Promise<TenantSecretRow | null> {
  const r = await q.query<TenantSecretRow>(`select ${COLUMNS} from tenant_secrets where tenant_id = $1 and name = $2`, [tenantId, name]);
  return r.rows[0] ?? null;
}

export async function listTenantSecrets(q: Queryable, tenantId: number): Promise<TenantSecretRow[]> {
  const r = await q.query<TenantSecretRow>(`select ${COLUMNS} from tenant_secrets where tenant_id = $1 order by name`, [tenantId]);
  return r.rows;
}

/**
 * The same value sealed anew (master key rotation): its age (value_set_at) is kept. Only if
 * the row still holds `read`, the ciphertext the new one was made from: false when a write
 * committed since (or the row is gone), which is then left as it is — compare-and-set.
 */
export async function resealTenantSecret(q: Queryable, tenantId: number, name: string, read: Buffer, s: { keyId: string; ciphertext: Uint8Array }): Promise<boolean> {
  const r = await q.query(`update tenant_secrets set key_id = $3, ciphertext = $4 where tenant_id = $1 and name = $2 and ciphertext = $5`, [
    tenantId,
    name,
    s.keyId,
    Buffer.from(s.ciphertext.buffer, s.ciphertext.byteOffset, s.ciphertext.byteLength),
    read,
  ]);
  return r.rowCount === 1;
}

/** Every secret not sealed by `keyId`, locked (FOR UPDATE) until the transaction ends. */
export async function lockTenantSecretsNotSealedBy(q: Queryable, keyId: string): Promise<TenantSecretRow[]> {
  const r = await q.query<TenantSecretRow>(`select ${COLUMNS} from tenant_secrets where key_id <> $1 order by tenant_id, name for update`, [keyId]);
  return r.rows;
}

/** Every secret of every tenant (ciphertext included): for re-sealing under a new master key. */
export async function listAllTenantSecrets(q: Queryable): Promise<TenantSecretRow[]> {
  const r = await q.query<TenantSecretRow>(`select ${COLUMNS} from tenant_secrets order by tenant_id, name`);
  return r.rows;
}

/** Names and the age of each value (not of its sealing): `tenant show`, `secrets rotate --due`. */
export async function listSecretAges(q: Queryable, tenantId: number): Promise<Array<{ name: string; valueSetAt: Date }>> {
  const r = await q.query<{ name: string; valueSetAt: Date }>(`select name, value_set_at as "valueSetAt" from tenant_secrets where tenant_id = $1 order by name`, [tenantId]);
  return r.rows;
}

export async function deleteTenantSecretsNamed(q: Queryable, tenantId: number, names: string[]): Promise<void> {
  await q.query(`delete from tenant_secrets where tenant_id = $1 and name = any($2::text[])`, [tenantId, names]);
}

/** Names only — for `tenant show`, which must not load ciphertext it will not decrypt. */
export async function listTenantSecretNames(q: Queryable, tenantId: number): Promise<string[]> {
  const r = await q.query<{ name: string }>(`select name from tenant_secrets where tenant_id = $1 order by name`, [tenantId]);
  return r.rows.map((row) => row.name);
}

/** Drops every secret of a tenant (after `tenant delete` removed its stack); returns how many. */
export async function deleteTenantSecrets(q: Queryable, tenantId: number): Promise<number> {
  const r = await q.query(`delete from tenant_secrets where tenant_id = $1`, [tenantId]);
  return r.rowCount;
}
