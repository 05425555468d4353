import type { Ctx } from "../../cli/context.js";
import type { Plan } from "../../config/schema.js";
import { allocatable, capacityPolicy, serverCapacity, type TenantUse } from "../../core/capacity.js";
import { placementServer, type PlacementInput, type PlacementServer } from "../../core/placement.js";
import type { Queryable } from "../../state/db.js";
import type { ServerWithUsage } from "../../state/servers.js";

/**
 * The servers as placement sees them, each with its room by resources (issue 26): its facts
 * and the plans of the tenants on it (not deleted; a plan btw.yml no longer has counts as
 * nothing, as units would still count its weight). With `plan`, what choosePlacement needs.
 */
export async function placementInput(ctx: Ctx, db: Queryable, servers: readonly ServerWithUsage[], planName: string, plan: Plan): Promise<Pick<PlacementInput, "servers" | "plan">> {
  const policy = capacityPolicy(ctx.config);
  const loads = await serverLoads(ctx, db);
  const withResources = (s: ServerWithUsage): PlacementServer => ({
    ...placementServer(s),
    resources: serverCapacity({ name: s.name, allocatable: allocatable(s.facts, policy), ...(loads.get(s.name) ?? { tenants: [], use: [] }) }, policy),
  });
  return { servers: servers.map(withResources), plan: { name: planName, plan, policy } };
}

/**
 * Why one more tenant of `planName` does not fit on `server` by resources (a sentence naming
 * the short resource), or null when it fits or the server's resources are unknown. `without`:
 * a tenant already there whose place the new one takes (set-plan counts the tenant once).
 */
export async function resourceShortage(ctx: Ctx, db: Queryable, server: { name: string; facts: ServerWithUsage["facts"] }, planName: string, plan: Plan, without?: string): Promise<string | null> {
  const { fitsResources, describeShort } = await import("../../core/capacity.js");
  const policy = capacityPolicy(ctx.config);
  const load = (await serverLoads(ctx, db, without)).get(server.name) ?? { tenants: [], use: [] };
  const fit = fitsResources(serverCapacity({ name: server.name, allocatable: allocatable(server.facts, policy), ...load }, policy), plan, policy);
  return fit.ok ? null : describeShort(server.name, planName, fit, policy);
}

/**
 * Per server, its tenants' plans and measured use, aligned (what serverCapacity counts): the
 * tenants not deleted whose plan btw.yml still has, but `without`.
 */
export async function serverLoads(ctx: Ctx, db: Queryable, without?: string): Promise<Map<string, { tenants: Plan[]; use: Array<TenantUse | null> }>> {
  const { listTenants } = await import("../../state/tenants.js");
  const [tenants, use] = await Promise.all([listTenants(db), tenantUse(db)]);
  const loads = new Map<string, { tenants: Plan[]; use: Array<TenantUse | null> }>();
  for (const t of tenants) {
    const p = ctx.config.plans[t.plan];
    if (!t.serverName || !p || t.slug === without) continue;
    const l = loads.get(t.serverName) ?? { tenants: [], use: [] };
    l.tenants.push(p);
    l.use.push(use.get(t.id) ?? null);
    loads.set(t.serverName, l);
  }
  return loads;
}

/** Each tenant's measured use: the p95 of its resource samples of the last `days` days (`btw usage collect`). */
export async function tenantUse(db: Queryable, days = 7): Promise<Map<number, TenantUse>> {
  // (an ordered-set aggregate skips nulls: disk is null where the engine could not size volumes)
  const { rows } = await db.query<{ tenantId: string; memory: string; cpu: number; disk: string | null }>(
    `select tenant_id::text as "tenantId",
            percentile_disc(0.95) within group (order by memory_bytes)::text as memory,
            percentile_disc(0.95) within group (order by cpu_cores) as cpu,
            percentile_disc(0.95) within group (order by disk_bytes)::text as disk
       from resource_samples where taken_at > now() - make_interval(days => $1) group by tenant_id`,
    [days],
  );
  return new Map(
    rows.map((r) => [Number(r.tenantId), { memoryMb: Math.round(Number(r.memory) / 2 ** 20), cpu: Number(r.cpu), ...(r.disk !== null ? { diskGb: Math.round((Number(r.disk) / 2 ** 30) * 100) / 100 } : {}) }]),
  );
}
