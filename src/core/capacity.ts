// Room on a server in resources, not units (issue 26). Pure: the caller gives a server's facts
// (what `server check` read: CPUs, memory — the VM's cgroup limit when it has one —, free disk),
// the plans of the tenants placed on it, and the policy; this says what is allocatable,
// reserved, limited and free, whether a new tenant fits, and which resource is short.
//
// The policy, stated once:
// - allocatable = what the server has − what the platform itself takes (Docker engine,
//   the proxy, the exporters): `platformReserve`;
// - reservations never exceed allocatable: the sum of the tenants' reservations (what a
//   tenant needs to run well, measured on the lab — not its limit) must fit, for CPU and
//   memory;
// - memory limits may exceed allocatable by a factor (`overcommit`): tenants rarely peak
//   together, but a server whose limits are many times its memory is one busy hour from the
//   OOM killer. CPU limits are caps that protect neighbours, and CPU is compressible (a busy
//   server slows, it kills nobody; each tenant keeps its cpu_shares): they are shown, not capped;
// - disk: a new tenant needs its reservation of free disk above `minFreeDiskGb`.
// A server without facts (never checked) has no known resources: units decide alone there.

import { planRunner, type Config, type Plan } from "../config/schema.js";

export type Resource = "cpu" | "memory" | "disk";

export interface Resources {
  /** CPUs */
  cpu: number;
  memoryMb: number;
}

export interface CapacityPolicy {
  platformReserve: Resources;
  /** memory limits may reach allocatable × this */
  overcommit: { memory: number };
  /** disk a server keeps free whatever happens (logs, images, backups in flight) */
  minFreeDiskGb: number;
}

export const DEFAULT_CAPACITY_POLICY: CapacityPolicy = {
  // the Docker engine (~60–120 MiB on the lab), the proxy (11–32 MiB), node exporter, the
  // kernel's own and the page cache Postgres lives on: a round 1 GiB and half a CPU
  platformReserve: { cpu: 0.5, memoryMb: 1024 },
  overcommit: { memory: 1.5 },
  minFreeDiskGb: 10,
};

/**
 * What a service needs to run well when its plan sets no `memoryReservedMb`: its working set
 * idle and serving the editor, measured on the lab (n8n 2.8.4, `docker stats`, 2026-12-07):
 * n8n 398–405 MiB (with its task runner and the editor's assets on tmpfs), Postgres 31–49 MiB,
 * Redis 3.5–3.8 MiB; rounded up for a normal run's growth. A worker runs the executions:
 * n8n's figure without the editor. A task runner in its own container (since issue 24):
 * 92 MiB idle after its start.
 */
export const MEASURED_MEMORY_MB = { n8n: 512, worker: 448, postgres: 96, redis: 16, runner: 96 } as const;

/**
 * CPUs a service needs to run well: idle on the lab (same run) n8n used 0.7–1.5 % of a CPU,
 * Postgres 0.1 %, Redis 0.25 %; the figures leave room for a normal run. Not the plan's
 * `cpuReserved`: that is a share under contention (cpu_shares), a weight between tenants
 * when the server is busy, not what a tenant uses.
 */
export const MEASURED_CPU = { n8n: 0.1, worker: 0.25, postgres: 0.05, redis: 0.02, runner: 0.02 } as const;

/** Disk a tenant needs when its plan sets none: images are shared, this is its data's start. */
export const DEFAULT_DISK_RESERVED_GB = 2;

type Service = Plan["n8n"];
type Role = keyof typeof MEASURED_MEMORY_MB;

export interface Demand {
  reserved: Resources;
  limit: Resources;
  diskGb: number;
}

function services(plan: Plan): Array<[Role, Service]> {
  const out: Array<[Role, Service]> = [
    ["n8n", plan.n8n],
    ["postgres", plan.postgres],
    ["redis", plan.redis],
  ];
  out.push(["runner", planRunner(plan)]);
  if (plan.queueMode) out.push(["worker", plan.worker ?? plan.n8n], ["runner", planRunner(plan)]);
  return out;
}

/** `n` to `digits` decimals (figures in reports: shares, CPUs, GB) */
export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** One tenant of `plan`: what it reserves (the measured figures; its memoryReservedMb when set) and what its limits allow. */
export function planDemand(plan: Plan): Demand {
  const reserved = { cpu: 0, memoryMb: 0 };
  const limit = { cpu: 0, memoryMb: 0 };
  for (const [role, s] of services(plan)) {
    reserved.cpu += Math.min(MEASURED_CPU[role], s.cpus);
    reserved.memoryMb += Math.min(s.memoryReservedMb ?? MEASURED_MEMORY_MB[role], s.memoryMb);
    limit.cpu += s.cpus;
    limit.memoryMb += s.memoryMb;
  }
  return { reserved: { cpu: round(reserved.cpu), memoryMb: reserved.memoryMb }, limit: { cpu: round(limit.cpu), memoryMb: limit.memoryMb }, diskGb: plan.diskReservedGb ?? DEFAULT_DISK_RESERVED_GB };
}

export interface ServerFactsLike {
  cpus?: number;
  memTotalBytes?: number;
  /** the server's (VM's) cgroup memory limit, when it has one below its RAM */
  memLimitBytes?: number;
  /** its cgroup CPU quota in CPUs, when it has one */
  cpuLimit?: number;
  diskFreeBytes?: number;
  [key: string]: unknown;
}

export interface Allocatable extends Resources {
  /** free disk when last checked, GB */
  diskFreeGb: number | null;
}

/** What tenants may use on a server, or null when its facts do not say (never checked). */
export function allocatable(facts: ServerFactsLike | null, policy: CapacityPolicy = DEFAULT_CAPACITY_POLICY): Allocatable | null {
  if (!facts || !(Number(facts.cpus) > 0) || !(Number(facts.memTotalBytes) > 0)) return null;
  const memBytes = Math.min(Number(facts.memTotalBytes), Number(facts.memLimitBytes) > 0 ? Number(facts.memLimitBytes) : Infinity);
  return {
    cpu: round(Math.max(0, Math.min(Number(facts.cpus), Number(facts.cpuLimit) > 0 ? Number(facts.cpuLimit) : Infinity) - policy.platformReserve.cpu)),
    memoryMb: Math.max(0, Math.floor(memBytes / 2 ** 20) - policy.platformReserve.memoryMb),
    diskFreeGb: Number(facts.diskFreeBytes) >= 0 && facts.diskFreeBytes !== undefined ? round(Number(facts.diskFreeBytes) / 2 ** 30, 1) : null,
  };
}

/** What a tenant was measured using (p95 of its recent samples, `btw usage collect`). */
export interface TenantUse {
  memoryMb: number;
  cpu: number;
  /** its volumes' size, GB (absent: never measured) */
  diskGb?: number;
}

export interface ServerLoad {
  name: string;
  allocatable: Allocatable | null;
  /** the plans of the tenants placed on it (not deleted) */
  tenants: readonly Plan[];
  /** each tenant's measured use, aligned with `tenants` (null or absent: never measured) */
  use?: ReadonlyArray<TenantUse | null>;
}

export interface ServerCapacity {
  name: string;
  allocatable: Allocatable | null;
  reserved: Resources;
  limit: Resources;
  /** allocatable − reserved */
  free: Resources | null;
  /** the measured use of its tenants (p95 each, summed); null when none was ever measured */
  used: Resources | null;
  /** its tenants' volumes, GB (p95 each, summed); null when none was ever measured */
  usedDiskGb: number | null;
  /** what the policy lets memory limits reach: allocatable × overcommit */
  limitCeiling: { memoryMb: number } | null;
  /** resources over the policy now (reservations above allocatable, limits above the ceiling) */
  over: Resource[];
  tenants: number;
}

export function serverCapacity(s: ServerLoad, policy: CapacityPolicy = DEFAULT_CAPACITY_POLICY): ServerCapacity {
  const reserved = { cpu: 0, memoryMb: 0 };
  const limit = { cpu: 0, memoryMb: 0 };
  const usedSum = { cpu: 0, memoryMb: 0 };
  let measured = false;
  let disk: number | null = null;
  for (const [i, p] of s.tenants.entries()) {
    const d = planDemand(p);
    // a tenant that uses more than its plan reserves (p95) counts what it uses
    const u = s.use?.[i] ?? null;
    if (u) {
      measured = true;
      usedSum.cpu += u.cpu;
      usedSum.memoryMb += u.memoryMb;
      if (u.diskGb !== undefined) disk = (disk ?? 0) + u.diskGb;
    }
    reserved.cpu += Math.max(d.reserved.cpu, u?.cpu ?? 0);
    reserved.memoryMb += Math.max(d.reserved.memoryMb, u?.memoryMb ?? 0);
    limit.cpu += d.limit.cpu;
    limit.memoryMb += d.limit.memoryMb;
  }
  const a = s.allocatable;
  const ceiling = a ? { memoryMb: Math.floor(a.memoryMb * policy.overcommit.memory) } : null;
  const over: Resource[] = [];
  if (a && ceiling) {
    if (reserved.cpu > a.cpu + 1e-9) over.push("cpu");
    if (reserved.memoryMb > a.memoryMb || limit.memoryMb > ceiling.memoryMb) over.push("memory");
    if (a.diskFreeGb !== null && a.diskFreeGb < policy.minFreeDiskGb) over.push("disk");
  }
  return {
    name: s.name,
    allocatable: a,
    reserved: { cpu: round(reserved.cpu), memoryMb: reserved.memoryMb },
    limit: { cpu: round(limit.cpu), memoryMb: limit.memoryMb },
    free: a ? { cpu: round(a.cpu - reserved.cpu), memoryMb: a.memoryMb - reserved.memoryMb } : null,
    used: measured ? { cpu: round(usedSum.cpu), memoryMb: Math.round(usedSum.memoryMb) } : null,
    usedDiskGb: disk === null ? null : round(disk, 1),
    limitCeiling: ceiling,
    over,
    tenants: s.tenants.length,
  };
}

export type Fit = { ok: true } | { ok: false; short: Resource; need: number; have: number; unit: "CPUs" | "MiB" | "GB"; what: "reservation" | "limit" | "free disk" };

/** Whether one more tenant of `plan` fits on a server under the policy; the first short resource when not. Unknown resources fit (units decide). */
export function fitsResources(c: ServerCapacity, plan: Plan, policy: CapacityPolicy = DEFAULT_CAPACITY_POLICY): Fit {
  const a = c.allocatable;
  if (!a || !c.limitCeiling) return { ok: true };
  const d = planDemand(plan);
  const checks: Array<[boolean, Fit]> = [
    [c.reserved.memoryMb + d.reserved.memoryMb > a.memoryMb, { ok: false, short: "memory", what: "reservation", need: d.reserved.memoryMb, have: Math.max(0, a.memoryMb - c.reserved.memoryMb), unit: "MiB" }],
    [c.limit.memoryMb + d.limit.memoryMb > c.limitCeiling.memoryMb, { ok: false, short: "memory", what: "limit", need: d.limit.memoryMb, have: Math.max(0, c.limitCeiling.memoryMb - c.limit.memoryMb), unit: "MiB" }],
    [c.reserved.cpu + d.reserved.cpu > a.cpu + 1e-9, { ok: false, short: "cpu", what: "reservation", need: d.reserved.cpu, have: round(Math.max(0, a.cpu - c.reserved.cpu)), unit: "CPUs" }],
    [a.diskFreeGb !== null && a.diskFreeGb - d.diskGb < policy.minFreeDiskGb, { ok: false, short: "disk", what: "free disk", need: d.diskGb + policy.minFreeDiskGb, have: a.diskFreeGb ?? 0, unit: "GB" }],
  ];
  return checks.find(([short]) => short)?.[1] ?? { ok: true };
}

/** How many more tenants of `plan` fit on the server under the policy (null: resources unknown). */
export function headroom(c: ServerCapacity, plan: Plan, policy: CapacityPolicy = DEFAULT_CAPACITY_POLICY): number | null {
  const a = c.allocatable;
  if (!a || !c.limitCeiling) return null;
  const d = planDemand(plan);
  const by = (free: number, each: number): number => (each > 0 ? Math.max(0, Math.floor(free / each + 1e-9)) : Infinity);
  const n = Math.min(
    by(a.memoryMb - c.reserved.memoryMb, d.reserved.memoryMb),
    by(c.limitCeiling.memoryMb - c.limit.memoryMb, d.limit.memoryMb),
    by(a.cpu - c.reserved.cpu, d.reserved.cpu),
    a.diskFreeGb === null ? Infinity : by(a.diskFreeGb - policy.minFreeDiskGb, d.diskGb),
  );
  return Number.isFinite(n) ? n : null;
}

/** A refusal in words: "memory: the plan reserves 624 MiB, 300 MiB left of the server's reservations". */
export function describeShort(server: string, planName: string, f: Exclude<Fit, { ok: true }>, policy: CapacityPolicy = DEFAULT_CAPACITY_POLICY): string {
  const n = (v: number) => (f.unit === "MiB" ? String(Math.round(v)) : String(round(v, f.unit === "CPUs" ? 2 : 1)));
  if (f.what === "free disk") return `server '${server}' is short of disk: a ${planName} tenant needs ${n(f.need)} GB free (its ${n(f.need - policy.minFreeDiskGb)} GB and the ${policy.minFreeDiskGb} GB kept free), it has ${n(f.have)} GB`;
  return `server '${server}' is short of ${f.short === "cpu" ? "CPU" : "memory"}: a ${planName} tenant ${f.what === "reservation" ? "reserves" : "may use up to"} ${n(f.need)} ${f.unit}, ${n(f.have)} ${f.unit} left ${f.what === "reservation" ? "of what the server can give" : "under the overcommit ceiling"}`;
}

/** The policy btw.yml sets (placement.resources). */
export function capacityPolicy(config: Pick<Config, "placement">): CapacityPolicy {
  const r = config.placement.resources;
  return { platformReserve: { cpu: r.platformReserve.cpus, memoryMb: r.platformReserve.memoryMb }, overcommit: { memory: r.overcommit.memory }, minFreeDiskGb: r.minFreeDiskGb };
}

export interface ServerTypeSpec {
  vcpus: number;
  memoryGb: number;
  diskGb: number;
  priceEurMonth: number;
}

export interface FleetCapacity {
  policy: CapacityPolicy;
  servers: Array<ServerCapacity & { headroom: Record<string, number | null>; status: string }>;
  /** tenants more of each plan the fleet's ready servers take (servers without facts: not counted) */
  headroom: Record<string, number>;
  /** per Hetzner type: how many tenants of each plan an empty one holds, and the cost per tenant */
  types: Array<{ type: string; priceEurMonth: number; perServer: Record<string, number>; eurPerTenant: Record<string, number | null> }>;
  over: string[];
  unchecked: string[];
  advice: string[];
}

/**
 * The fleet's room by resources: each server (its facts, the plans placed on it), the fleet's
 * headroom in tenants of each plan, each Hetzner type's tenants per server and cost per
 * tenant, and advice in words. `plans` are the plans of btw.yml (the caller leaves out a
 * tenant whose plan it no longer has: nothing says what it reserves).
 */
export function fleetCapacity(input: {
  /** each server with its tenants' plans and measured use, aligned (as ServerLoad) */
  servers: ReadonlyArray<{ name: string; status: string; facts: ServerFactsLike | null; tenants: readonly Plan[]; use?: ReadonlyArray<TenantUse | null> }>;
  plans: Readonly<Record<string, Plan>>;
  types: Readonly<Record<string, ServerTypeSpec>>;
  policy?: CapacityPolicy;
  /** the seed's thresholds: tenants in all, servers in all */
  thresholds?: { tenants: number; servers: number };
}): FleetCapacity {
  const policy = input.policy ?? DEFAULT_CAPACITY_POLICY;
  const planNames = Object.keys(input.plans);
  const servers = input.servers.map((s) => {
    const c = serverCapacity({ name: s.name, allocatable: allocatable(s.facts, policy), tenants: s.tenants, ...(s.use ? { use: s.use } : {}) }, policy);
    const headroomByPlan = Object.fromEntries(planNames.map((p) => [p, headroom(c, input.plans[p]!, policy)]));
    return { ...c, headroom: headroomByPlan, status: s.status };
  });
  const ready = servers.filter((s) => s.status === "active");
  const fleetHeadroom = Object.fromEntries(planNames.map((p) => [p, ready.reduce((n, s) => n + (s.headroom[p] ?? 0), 0)]));
  const types = Object.entries(input.types)
    .map(([type, t]) => {
      const empty = serverCapacity({ name: type, allocatable: allocatable({ cpus: t.vcpus, memTotalBytes: t.memoryGb * 2 ** 30, diskFreeBytes: t.diskGb * 2 ** 30 * 0.9 }, policy), tenants: [] }, policy);
      const perServer = Object.fromEntries(planNames.map((p) => [p, headroom(empty, input.plans[p]!, policy) ?? 0]));
      const eurPerTenant = Object.fromEntries(planNames.map((p) => [p, perServer[p]! > 0 ? round(t.priceEurMonth / perServer[p]!) : null]));
      return { type, priceEurMonth: t.priceEurMonth, perServer, eurPerTenant };
    })
    .sort((a, b) => a.type.localeCompare(b.type));
  const over = servers.filter((s) => s.over.length > 0).map((s) => s.name);
  const unchecked = servers.filter((s) => s.allocatable === null).map((s) => s.name);
  const advice: string[] = [];
  for (const s of servers.filter((x) => x.over.length > 0)) {
    advice.push(`${s.name} is over its policy (${s.over.join(", ")}): move tenants off it (\`btw tenant migrate <t> --to <server>\`) or give it a bigger type`);
  }
  if (unchecked.length > 0) advice.push(`no facts for ${unchecked.join(", ")}: run \`btw server check <name>\` so placement can count their resources`);
  const cheapest = (plan: string) => types.filter((t) => t.eurPerTenant[plan] !== null).sort((a, b) => a.eurPerTenant[plan]! - b.eurPerTenant[plan]! || a.type.localeCompare(b.type))[0];
  const small = planNames.find((p) => (fleetHeadroom[p] ?? 0) < 2);
  if (small !== undefined) {
    const best = cheapest(small);
    advice.push(
      `room for fewer than 2 more ${small} tenants: add a server${best ? ` — ${best.type} costs the least per ${small} tenant (${best.eurPerTenant[small]} €/month, ${best.perServer[small]} per server)` : ""} (\`btw infra apply\` with hetzner.servers raised, or \`btw server add\`)`,
    );
  }
  const th = input.thresholds ?? { tenants: 100, servers: 10 };
  const tenantTotal = servers.reduce((n, s) => n + s.tenants, 0);
  if (tenantTotal >= th.tenants) advice.push(`${tenantTotal} tenants: past the seed's ${th.tenants}, it plans bigger servers (fewer, cheaper per tenant) — compare the types below`);
  if (servers.length >= th.servers) advice.push(`${servers.length} servers: past the seed's ${th.servers}, review the server type (the types below) and the edge's load balancer`);
  return { policy, servers, headroom: fleetHeadroom, types, over, unchecked, advice };
}
