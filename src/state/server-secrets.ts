// Server secrets as stored (015_server_secrets.sql): ciphertext sealed by src/secrets under a
// master key, like tenant_secrets. This module never sees plaintext, and its errors never
// carry the bytes.

import type { Queryable } from "./db.js";

export interface ServerSecretRow {
  serverId: number;
  /** e.g. METRICS_TOKEN */
  name: string;
  /** which master key sealed it */
  keyId: string;
  ciphertext: Buffer;
}

const COLUMNS = `server_id as "serverId", name, key_id as "keyId", ciphertext`;

const bytes = (c: Uint8Array) => Buffer.from(c.buffer, c.byteOffset, c.byteLength);

/** Inserts the secret unless the server has one by that name (two processes: the first wins). */
export async function insertServerSecretIfAbsent(q: Queryable, serverId: number, s: { name: string; keyId: string; ciphertext: Uint8Array }): Promise<void> {
  await q.query(`insert into server_secrets (server_id, name, key_id, ciphertext) values ($1, $2, $3, $4) on conflict (server_id, name) do nothing`, [
    serverId,
    s.name,
    s.keyId,
    bytes(s.ciphertext),
  ]);
}

export async function getServerSecret(q: Queryable, serverId: number, name: string): Promise<ServerSecretRow | null> {
  const r = await q.query<ServerSecretRow>(`select ${COLUMNS} from server_secrets where server_id = $1 and name = $2`, [serverId, name]);
  return r.rows[0] ?? null;
}

/** Every server secret (ciphertext included): for re-sealing under a new master key. */
export async function listAllServerSecrets(q: Queryable): Promise<ServerSecretRow[]> {
  const r = await q.query<ServerSecretRow>(`select ${COLUMNS} from server_secrets order by server_id, name`);
  return r.rows;
}

/** Every server secret not sealed by `keyId`, locked (FOR UPDATE) until the transaction ends. */
export async function lockServerSecretsNotSealedBy(q: Queryable, keyId: string): Promise<ServerSecretRow[]> {
  const r = await q.query<ServerSecretRow>(`select ${COLUMNS} from server_secrets where key_id <> $1 order by server_id, name for update`, [keyId]);
  return r.rows;
}

/** The same value sealed anew (master key rotation), only if the row still holds `read` (compare-and-set). */
export async function resealServerSecret(q: Queryable, serverId: number, name: string, read: Buffer, s: { keyId: string; ciphertext: Uint8Array }): Promise<boolean> {
  const r = await q.query(`update server_secrets set key_id = $3, ciphertext = $4 where server_id = $1 and name = $2 and ciphertext = $5`, [serverId, name, s.keyId, bytes(s.ciphertext), read]);
  return r.rowCount === 1;
}
