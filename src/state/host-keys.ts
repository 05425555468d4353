// Pinned SSH host keys (011_host_keys.sql): shared by every operator and cron host of this
// state, so the first contact with a server is the only trust-on-first-use.

import type { Queryable } from "./db.js";
import type { HostKey, HostKeyPin } from "../core/server/host-keys.js";
import { fingerprintOf } from "../core/server/host-keys.js";

export type PinSource = "first-contact" | "approved" | "imported";

export interface HostKeyRow extends HostKeyPin {
  fingerprint: string;
  source: PinSource;
  pinnedAt: Date;
}

const COLUMNS = `host, port, key_type as type, public_key as key, fingerprint, source, pinned_at as "pinnedAt"`;

export async function listHostKeys(q: Queryable, target?: { host: string; port: number }): Promise<HostKeyRow[]> {
  const r = target
    ? await q.query<HostKeyRow>(`select ${COLUMNS} from host_keys where host = $1 and port = $2 order by key_type`, [target.host, target.port])
    : await q.query<HostKeyRow>(`select ${COLUMNS} from host_keys order by host, port, key_type`);
  return r.rows;
}

/**
 * First contact: pins the keys only if host:port has none yet (one statement, so of two
 * racing first contacts one set wins). Returns the pins that hold afterwards.
 */
export async function pinFirstContact(q: Queryable, host: string, port: number, keys: HostKey[], source: PinSource = "first-contact"): Promise<HostKeyRow[]> {
  if (keys.length > 0) {
    await q.query(
      `insert into host_keys (host, port, key_type, public_key, fingerprint, source)
       select $1, $2, k.type, k.key, k.fp, $6 from unnest($3::text[], $4::text[], $5::text[]) as k(type, key, fp)
       where not exists (select 1 from host_keys where host = $1 and port = $2)
       on conflict do nothing`,
      [host, port, keys.map((k) => k.type), keys.map((k) => k.key), keys.map((k) => fingerprintOf(k.key)), source],
    );
  }
  return listHostKeys(q, { host, port });
}

/** Exactly these keys for host:port (an approved change); in the caller's transaction. */
export async function replaceHostKeys(q: Queryable, host: string, port: number, keys: HostKey[]): Promise<void> {
  await q.query(`delete from host_keys where host = $1 and port = $2`, [host, port]);
  for (const k of keys) {
    await q.query(`insert into host_keys (host, port, key_type, public_key, fingerprint, source) values ($1, $2, $3, $4, $5, 'approved')`, [
      host,
      port,
      k.type,
      k.key,
      fingerprintOf(k.key),
    ]);
  }
}

export async function forgetHostKeys(q: Queryable, host: string, port: number): Promise<number> {
  return (await q.query(`delete from host_keys where host = $1 and port = $2`, [host, port])).rowCount;
}
