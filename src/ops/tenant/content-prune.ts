// `btw tenant content prune`: the content schema's retention, tenant by tenant (one SSH
// connection per server, shared by its tenants; the statement on psql's stdin). Each tenant
// pruned is an audit row with what was deleted.

import type { Ctx } from "../../cli/context.js";
import { runBounded } from "../../core/backup/pool.js";
import { contentPruneSql, parsePruneCounts } from "../../core/content/retention.js";
import { tenantLayout } from "../../core/tenant/layout.js";
import { psqlQuery } from "../../core/tenant/psql.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantListRow } from "../../state/tenants.js";
import { HostPool } from "../workflows/tenant.js";

export interface PruneItem {
  tenant: string;
  server: string;
  ok: boolean;
  days?: number;
  keywords?: number;
  clusters?: number;
  skipped?: boolean;
  reason?: string;
  error?: string;
}

export async function pruneContent(ctx: Ctx, db: Db, targets: ReadonlyArray<{ tenant: TenantListRow; days: number }>): Promise<PruneItem[]> {
  const { listServers } = await import("../../state/servers.js");
  const servers = new Map((await listServers(db)).map((s) => [s.name, s as ServerRow]));
  const hosts = new HostPool(ctx);
  const settled = await runBounded(targets, (x) => x.tenant.serverName ?? "?", { total: 8, perGroup: 4 }, async ({ tenant, days }) => {
    const server = servers.get(tenant.serverName ?? "");
    if (!server) throw new Error(`no server recorded for ${tenant.slug}`);
    const host = await hosts.get(server);
    const out = await host.run(psqlQuery(tenantLayout(tenant.slug).containers.postgres), { input: contentPruneSql(days), timeoutMs: 10 * 60_000 });
    const counts = parsePruneCounts(out.stdout);
    if (!counts) throw new Error(`unexpected answer from ${tenant.slug}'s database: ${out.stdout.trim().slice(0, 120)}`);
    await ctx.audit("tenant.content.prune", tenant.slug, { days, ...counts });
    return counts;
  });
  return settled.map((s) => {
    const base = { tenant: s.item.tenant.slug, server: s.item.tenant.serverName ?? "?", days: s.item.days };
    return s.ok ? { ...base, ok: true, ...s.value } : { ...base, ok: false, error: ((s.error as Error)?.message ?? String(s.error)).split("\n")[0]! };
  });
}
