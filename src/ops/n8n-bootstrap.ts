import type { Ctx } from "../cli/context.js";
import type { Db } from "../state/db.js";
import type { TenantRow } from "../state/tenants.js";
import type { Host } from "./host.js";
import { ownerEmail } from "../core/tenant/layout.js";
import { openN8nTunnel } from "./n8n-tunnel.js";
import { GENERATED, N8N_API_KEY, storeSecrets } from "./tenant-secrets.js";
import type { N8nClient } from "../remote/n8n.js";

export const API_KEY_LABEL = "btw";

/**
 * After the stack is healthy, through the SSH tunnel: the owner account, an API key (sealed
 * into the state the moment n8n shows it), then credentials and workflows. Every part is
 * idempotent, so a re-run after a crash converges: an existing owner is logged into, a stored
 * key that still works is kept, a lost one is replaced.
 */
export async function bootstrapN8n(ctx: Ctx, db: Db, host: Host, tenant: TenantRow, secrets: Map<string, string>): Promise<string> {
  const tunnel = await openN8nTunnel(host, tenant.slug);
  try {
    const { N8nClient } = await import("../remote/n8n.js");
    const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of tenant '${tenant.slug}'` });
    await client.waitReady(180_000);
    const owner = await client.setupOwner({
      email: ownerEmail(tenant.slug, ctx.config.domain),
      firstName: "btw",
      lastName: tenant.slug,
      password: secrets.get(GENERATED.ownerPassword)!,
    });
    const api = await ensureApiKey(ctx, db, client, tenant, secrets);
    const { deployToTenant } = await import("./workflows/deploy.js");
    const deployed = await deployToTenant(ctx, db, tenant, api, secrets);
    return `${owner.created ? "owner created" : "owner exists"}, API key ok, ${deployed}`;
  } finally {
    await tunnel.close();
  }
}

async function ensureApiKey(ctx: Ctx, db: Db, client: N8nClient, tenant: TenantRow, secrets: Map<string, string>): Promise<N8nClient> {
  const stored = secrets.get(N8N_API_KEY);
  if (stored) {
    const withKey = client.withApiKey(stored);
    try {
      await withKey.listWorkflows();
      return withKey;
    } catch {
      // lost or revoked (e.g. a restore): replace it below
    }
  }
  const raw = await client.createApiKey(API_KEY_LABEL, { replaceExisting: true });
  await storeSecrets(db, await ctx.master(), tenant.id, { [N8N_API_KEY]: raw });
  secrets.set(N8N_API_KEY, raw);
  return client.withApiKey(raw);
}
