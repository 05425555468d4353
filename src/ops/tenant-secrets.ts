import { open, seal } from "../secrets/envelope.js";
import type { MasterKey } from "../secrets/master-key.js";
import type { Queryable } from "../state/db.js";
import { getTenantSecret, listTenantSecrets, putTenantSecrets, resealTenantSecret, type TenantSecretRow } from "../state/tenant-secrets.js";
import { OperationError } from "../errors.js";

// Names of the secrets btw generates for every tenant, and of those the operator sets
// (`btw tenant secrets set`). Each is sealed bound to its tenant id and name.
export const GENERATED = {
  postgresPassword: "POSTGRES_PASSWORD",
  redisPassword: "REDIS_PASSWORD",
  encryptionKey: "N8N_ENCRYPTION_KEY",
  ownerPassword: "N8N_OWNER_PASSWORD",
} as const;
export const N8N_API_KEY = "N8N_API_KEY";
export const OPERATOR_SECRETS = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "WORDPRESS_URL", "WORDPRESS_USERNAME", "WORDPRESS_APP_PASSWORD"] as const;

const context = (tenantId: number, name: string) => `tenant:${tenantId}/${name}`;

export async function storeSecrets(q: Queryable, master: MasterKey, tenantId: number, values: Record<string, string>): Promise<void> {
  await putTenantSecrets(
    q,
    tenantId,
    Object.entries(values).map(([name, value]) => ({ name, keyId: master.id, ciphertext: Buffer.from(seal(master, context(tenantId, name), value), "utf8") })),
  );
}

/**
 * Opens a stored secret with `from` (its keyring included) and seals the same value under
 * `to`, unless the row changed since it was read (false: see resealTenantSecret).
 */
export async function resealSecret(q: Queryable, from: MasterKey, to: MasterKey, row: TenantSecretRow): Promise<boolean> {
  const ctxt = context(row.tenantId, row.name);
  const value = open(from, ctxt, row.ciphertext.toString("utf8"));
  try {
    return await resealTenantSecret(q, row.tenantId, row.name, row.ciphertext, { keyId: to.id, ciphertext: Buffer.from(seal(to, ctxt, value), "utf8") });
  } finally {
    value.fill(0);
  }
}

export async function readSecret(q: Queryable, master: MasterKey, tenantId: number, name: string): Promise<string | null> {
  const row = await getTenantSecret(q, tenantId, name);
  return row ? open(master, context(tenantId, name), row.ciphertext.toString("utf8")).toString("utf8") : null;
}

export async function readAllSecrets(q: Queryable, master: MasterKey, tenantId: number): Promise<Map<string, string>> {
  const rows = await listTenantSecrets(q, tenantId);
  return new Map(rows.map((r) => [r.name, open(master, context(tenantId, r.name), r.ciphertext.toString("utf8")).toString("utf8")]));
}

export async function requireSecret(q: Queryable, master: MasterKey, tenantId: number, name: string): Promise<string> {
  const v = await readSecret(q, master, tenantId, name);
  if (v === null) throw new OperationError(`tenant ${tenantId} has no ${name} in the state`, { code: "secret-missing", hint: "re-run `btw tenant create <name>` to complete provisioning" });
  return v;
}
