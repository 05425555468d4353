import { randomBytes } from "node:crypto";
import { open, seal } from "../../secrets/envelope.js";
import type { MasterKey } from "../../secrets/master-key.js";
import type { Queryable } from "../../state/db.js";
import { getServerSecret, insertServerSecretIfAbsent, resealServerSecret as resealIfUnchanged, type ServerSecretRow } from "../../state/server-secrets.js";

// Secrets btw generates for a server, sealed in the state bound to the server id and the name
// (src/state/server-secrets.ts). One so far: the token the proxy's private metrics listener
// asks of every request and Prometheus presents (issue 22 item 4) — per server, so one
// server's files do not open another's listener.

export const METRICS_TOKEN = "METRICS_TOKEN";

const context = (serverId: number, name: string) => `server:${serverId}/${name}`;

/**
 * The server's metrics token: generated (32 random bytes, hex) and sealed on first use with
 * `create`; otherwise null while it has none. Two processes creating it at once agree: the
 * first insert wins and both return its value.
 */
export async function metricsToken(q: Queryable, master: MasterKey, serverId: number, opts: { create: boolean }): Promise<string | null> {
  let row = await getServerSecret(q, serverId, METRICS_TOKEN);
  if (!row && opts.create) {
    const value = randomBytes(32).toString("hex");
    await insertServerSecretIfAbsent(q, serverId, { name: METRICS_TOKEN, keyId: master.id, ciphertext: Buffer.from(seal(master, context(serverId, METRICS_TOKEN), value), "utf8") });
    row = await getServerSecret(q, serverId, METRICS_TOKEN);
  }
  return row ? open(master, context(serverId, row.name), row.ciphertext.toString("utf8")).toString("utf8") : null;
}

/** Opens a stored server secret with `from` (its keyring included) and seals it under `to`, unless the row changed since it was read. */
export async function resealServerSecret(q: Queryable, from: MasterKey, to: MasterKey, row: ServerSecretRow): Promise<boolean> {
  const ctxt = context(row.serverId, row.name);
  const value = open(from, ctxt, row.ciphertext.toString("utf8"));
  try {
    return await resealIfUnchanged(q, row.serverId, row.name, row.ciphertext, { keyId: to.id, ciphertext: Buffer.from(seal(to, ctxt, value), "utf8") });
  } finally {
    value.fill(0);
  }
}
