import type { Ctx } from "../../cli/context.js";
import type { Plan } from "../../config/schema.js";
import { allocatable, capacityPolicy, serverCapacity } from "../../core/capacity.js";
import { placementServer, type PlacementInput, type PlacementServer } from "../../core/placement.js";
import type { Queryable } from "../../state/db.js";
import type { ServerWithUsage } from "../../state/servers.js";

/**
 * The servers as placement sees them, each with its room by resources (issue 26): its facts
 * and the plans of the tenants on it (not deleted; a plan btw.yml no longer has counts as
 * nothing, as units would still count its weight). With `plan`, what choosePlacement needs.
 */
export async function placementInput(ctx: Ctx, db: Queryable, servers: readonly ServerWithUsage[], planName: string, plan: Plan): Promise<Pick<PlacementInput, "servers" | "plan">> {
  const { listTenants } = await import("../../state/tenants.js");
  const policy = capacityPolicy(ctx.config);
  const plansOn = new Map<string, Plan[]>();
  for (const t of await listTenants(db)) {
    const p = ctx.config.plans[t.plan];
    if (t.serverName && p) plansOn.set(t.serverName, [...(plansOn.get(t.serverName) ?? []), p]);
  }
  const withResources = (s: ServerWithUsage): PlacementServer => ({
    ...placementServer(s),
    resources: serverCapacity({ name: s.name, allocatable: allocatable(s.facts, policy), tenants: plansOn.get(s.name) ?? [] }, policy),
  });
  return { servers: servers.map(withResources), plan: { name: planName, plan, policy } };
}

/**
 * Why one more tenant of `planName` does not fit on `server` by resources (a sentence naming
 * the short resource), or null when it fits or the server's resources are unknown. `without`:
 * a tenant already there whose place the new one takes (set-plan counts the tenant once).
 */
export async function resourceShortage(ctx: Ctx, db: Queryable, server: ServerWithUsage | { name: string; facts: ServerWithUsage["facts"] }, planName: string, plan: Plan, without?: string): Promise<string | null> {
  const { listTenants } = await import("../../state/tenants.js");
  const { fitsResources, describeShort } = await import("../../core/capacity.js");
  const policy = capacityPolicy(ctx.config);
  const plans = (await listTenants(db, { serverName: server.name }))
    .filter((t) => t.slug !== without)
    .map((t) => ctx.config.plans[t.plan])
    .filter((p): p is Plan => p !== undefined);
  const fit = fitsResources(serverCapacity({ name: server.name, allocatable: allocatable(server.facts, policy), tenants: plans }, policy), plan, policy);
  return fit.ok ? null : describeShort(server.name, planName, fit, policy);
}
