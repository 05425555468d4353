// `btw fleet rebalance --plan` (issue 26): the moves that bring every server under its
// capacity policy. Pure: the caller gives the servers (facts, units, status, isolation), the
// tenants where they are, the plans and the policy; this simulates moves and returns them.
//
// Greedy and small: for each server over its policy (by name), move the tenant whose plan may
// use the most memory first (one move frees the most), to the ready, isolated server where it
// fits by units and resources with the most memory left to reserve; repeat until the server
// is under its policy or nothing more can move. A tenant is moved at most once. What cannot be
// brought under is reported, with the reason, rather than half-planned. Then, asked for
// (`--spread`), the moves that even out measured load between servers (noisy neighbours).

import type { Plan } from "../config/schema.js";
import { allocatable, DEFAULT_CAPACITY_POLICY, fitsResources, planDemand, round, serverCapacity, type CapacityPolicy, type ServerFactsLike, type TenantUse } from "./capacity.js";

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
  /** what was over on `from` when this move was chosen (a spreading move: its busiest resource) */
  why: string[];
  /** a spreading move (noisy neighbours): the busiest share of each server before and after, 0–1 */
  spread?: { resource: "cpu" | "memory"; from: [number, number]; to: [number, number] };
}

/**
 * Spreading (`fleet rebalance --spread`): servers under their policy can still be unevenly
 * loaded — the busy tenants together on one server slow each other (noisy neighbours) while
 * another idles. The measured use (p95 of `usage collect`'s samples) is what counts, not the
 * plans: a server is busy from `busyShare` of its allocatable CPU or memory used, and a move is
 * proposed only while the busiest ready server uses `margin` more than the quietest and the
 * move lowers the busier of the two. Bounded: each move costs its tenant a maintenance window.
 */
export interface SpreadPolicy {
  maxMoves: number;
  busyShare: number;
  margin: number;
}
export const DEFAULT_SPREAD: SpreadPolicy = { maxMoves: 3, busyShare: 0.6, margin: 0.25 };

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
  /** also spread measured load once every server is under its policy (noisy neighbours) */
  spread?: SpreadPolicy;
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
  if (input.spread) moves.push(...spreadMoves(input.spread));
  return { moves, unresolved };

  /** the shares (0–1) of a server's allocatable CPU and memory its tenants use (p95), and the busier of the two; null when unknown */
  function load(s: RebalanceServer): { cpu: number; memory: number; share: number; resource: "cpu" | "memory" } | null {
    const a = allocatable(s.facts, policy);
    if (!a || a.cpu <= 0 || a.memoryMb <= 0) return null;
    const here = on(s.name);
    // a server whose tenants were never measured says nothing about its load (an empty one: none)
    if (here.length > 0 && here.every((t) => !t.use)) return null;
    const cpu = here.reduce((n, t) => n + (t.use?.cpu ?? 0), 0) / a.cpu;
    const memory = here.reduce((n, t) => n + (t.use?.memoryMb ?? 0), 0) / a.memoryMb;
    return cpu >= memory ? { cpu, memory, share: cpu, resource: "cpu" } : { cpu, memory, share: memory, resource: "memory" };
  }

  /** `fn`'s answer with `t` placed on `server` for the time of the call */
  function movedTo<T>(t: RebalanceTenant, server: string, fn: () => T): T {
    const was = where.get(t.slug)!;
    where.set(t.slug, server);
    try {
      return fn();
    } finally {
      where.set(t.slug, was);
    }
  }

  function spreadMoves(sp: SpreadPolicy): Move[] {
    const out: Move[] = [];
    const ready = input.servers.filter((s) => s.status === "active" && s.isolated);
    while (out.length < sp.maxMoves) {
      const loads = ready.flatMap((s) => {
        const l = load(s);
        return l ? [{ s, ...l }] : [];
      });
      if (loads.length < 2) break;
      // busiest first; the quietest last (by name when equal)
      loads.sort((x, y) => y.share - x.share || x.s.name.localeCompare(y.s.name));
      const hot = loads[0]!;
      if (hot.share < sp.busyShare || hot.share - loads[loads.length - 1]!.share <= sp.margin) break;
      const targets = loads.slice(1).sort((x, y) => x.share - y.share || x.s.name.localeCompare(y.s.name));
      let best: { move: Move; peak: number; there: number } | null = null;
      const candidates = on(hot.s.name).filter((t) => !moved.has(t.slug) && (t.status === "active" || t.status === "suspended") && planOf(t) !== undefined && t.use);
      for (const t of candidates) {
        for (const target of targets) {
          if (units(target.s) < t.weight || capacityOf(target.s).over.length > 0) continue;
          // what both servers would be with t moved: the target within its policy (t counted at
          // its plan's reservation or its measured use, the larger), the busier of the two lower
          const after = movedTo(t, target.s.name, () => ({ source: load(hot.s)!, target: load(target.s)!, over: capacityOf(target.s).over }));
          if (after.over.length > 0) continue;
          const peak = Math.max(after.source.share, after.target.share);
          if (peak >= hot.share - 1e-9) continue; // only swaps which server is busy
          if (best && (peak > best.peak + 1e-9 || (peak > best.peak - 1e-9 && after.target.share >= best.there - 1e-9))) continue;
          const r = hot.resource;
          best = { peak, there: after.target.share, move: { tenant: t.slug, plan: t.plan, from: hot.s.name, to: target.s.name, why: [r], spread: { resource: r, from: [round(hot[r]), round(after.source[r])], to: [round(target[r]), round(after.target[r])] } } };
        }
      }
      if (!best) break;
      out.push(best.move);
      moved.add(best.move.tenant);
      where.set(best.move.tenant, best.move.to);
    }
    return out;
  }
}
