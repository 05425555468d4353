import type { Ctx } from "../cli/context.js";
import type { Db } from "../state/db.js";
import type { TenantRow } from "../state/tenants.js";
import type { Host } from "./host.js";
import { openN8nTunnel, waitN8nReady } from "./n8n-tunnel.js";

/** After the stack is healthy: reach n8n through the tunnel and set it up. Idempotent. */
export async function bootstrapN8n(_ctx: Ctx, _db: Db, host: Host, tenant: TenantRow, _secrets: Map<string, string>): Promise<string> {
  const tunnel = await openN8nTunnel(host, tenant.slug);
  try {
    await waitN8nReady(tunnel.baseUrl, 120_000);
    return "ready";
  } finally {
    await tunnel.close();
  }
}
