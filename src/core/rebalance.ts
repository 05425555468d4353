// `btw fleet rebalance --plan` (issue 26): the moves that bring every server under its
// capacity policy. Pure: the caller gives the servers (facts, units, status, isolation), the
// tenants where they are, the plans and the policy; this simulates moves and returns them.
//
// Greedy and small: for each server over its policy (by name), move the tenant whose plan may
// use the most memory first (one move frees the most), to the ready, isolated server where it
// fits by units and resources with the most memory left to reserve; repeat until the server
// is under its policy or nothing more can move. A tenant is moved at most once. What cannot be
// brought under is reported, with the reason, rather than half-planned.

import type { Plan } from "../config/schema.js";
import { allocatable, DEFAULT_CAPACITY_POLICY, fitsResources, planDemand, serverCapacity, type CapacityPolicy, type ServerFactsLike, type TenantUse } from "./capacity.js";

export interface RebalanceServer {
  name: string;
  /** only `active` servers take tenants */
  status: string;
  isolated: boolean;
  facts: ServerFactsLike | null;
  /** capacity units */
  capacity: number;
}

export interface RebalanceTenant {
  slug: string;
  plan: string;
  weight: number;
  server: string;
  /** only active and suspended tenants can move (a migration needs one of those) */
  status: string;
  /** what it was measured using (p95), when it was */
  use?: TenantUse | null;
}

export interface Move {
  tenant: string;
  plan: string;
  from: string;
  to: string;
  /** what was over on `from` when this move was chosen */
  why: string[];
}

export interface RebalancePlan {
  moves: Move[];
  /** servers still over their policy after the moves, and why */
  unresolved: Array<{ server: string; over: string[]; reason: string }>;
}

export function planRebalance(input: {
  servers: readonly RebalanceServer[];
  tenants: readonly RebalanceTenant[];
  plans: Readonly<Record<string, Plan>>;
  policy?: CapacityPolicy;
}): RebalancePlan {
  const policy = input.policy ?? DEFAULT_CAPACITY_POLICY;
  const where = new Map(input.tenants.map((t) => [t.slug, t.server]));
  const planOf = (t: RebalanceTenant) => input.plans[t.plan];
  const on = (server: string) => input.tenants.filter((t) => where.get(t.slug) === server);
  const capacityOf = (s: RebalanceServer) => {
    const known = on(s.name).filter((t) => planOf(t) !== undefined);
    return serverCapacity({ name: s.name, allocatable: allocatable(s.facts, policy), tenants: known.map((t) => planOf(t)!), use: known.map((t) => t.use ?? null) }, policy);
  };
  const units = (s: RebalanceServer) => s.capacity - on(s.name).reduce((n, t) => n + t.weight, 0);
  const moved = new Set<string>();
  const moves: Move[] = [];
  const unresolved: RebalancePlan["unresolved"] = [];

  for (const source of [...input.servers].sort((a, b) => a.name.localeCompare(b.name))) {
    let first = true;
    for (;;) {
      const all = capacityOf(source).over;
      // moving tenants does not change the free disk `server check` recorded: not this tool's to fix
      if (first && all.includes("disk")) unresolved.push({ server: source.name, over: ["disk"], reason: "free disk below the floor: prune images or grow the disk, then `btw server check`" });
      first = false;
      const over = all.filter((r) => r !== "disk");
      if (over.length === 0) break;
      const candidates = on(source.name)
        .filter((t) => !moved.has(t.slug) && (t.status === "active" || t.status === "suspended") && planOf(t) !== undefined)
        .sort((a, b) => planDemand(planOf(b)!).limit.memoryMb - planDemand(planOf(a)!).limit.memoryMb || a.slug.localeCompare(b.slug));
      let chosen: Move | null = null;
      for (const t of candidates) {
        const targets = input.servers
          .filter((s) => s.name !== source.name && s.status === "active" && s.isolated && units(s) >= t.weight)
          .map((s) => ({ s, c: capacityOf(s) }))
          .filter(({ c }) => c.allocatable !== null && c.over.length === 0 && fitsResources(c, planOf(t)!, policy).ok)
          .sort((a, b) => b.c.free!.memoryMb - a.c.free!.memoryMb || a.s.name.localeCompare(b.s.name));
        const best = targets[0];
        if (best) {
          chosen = { tenant: t.slug, plan: t.plan, from: source.name, to: best.s.name, why: over };
          break;
        }
      }
      if (!chosen) {
        unresolved.push({
          server: source.name,
          over,
          reason: candidates.length === 0 ? "no tenant on it can move (none active or suspended, or each moved already)" : "no other server has room for any of its tenants: add a server",
        });
        break;
      }
      moves.push(chosen);
      moved.add(chosen.tenant);
      where.set(chosen.tenant, chosen.to);
    }
  }
  return { moves, unresolved };
}
