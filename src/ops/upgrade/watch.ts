import type { Ctx } from "../../cli/context.js";
import type { Db } from "../../state/db.js";
import { openServerSession } from "../backup/tenant.js";
import { openN8nTunnel, waitN8nReady } from "../n8n-tunnel.js";
import { requireTenant, tenantServer } from "../tenant-context.js";

/** After the canary watch: null when the tenant's n8n still answers ready, else what is wrong. */
export async function watchReady(ctx: Ctx, db: Db, slug: string): Promise<string | null> {
  try {
    const t = await requireTenant(db, slug);
    if (t.status !== "active") return null;
    const session = await openServerSession(ctx, await tenantServer(db, t));
    const tunnel = await openN8nTunnel(session.host, slug);
    try {
      await waitN8nReady(tunnel.baseUrl, 30_000);
      return null;
    } finally {
      await tunnel.close();
    }
  } catch (e) {
    return (e as Error).message.split("\n")[0]!;
  }
}
