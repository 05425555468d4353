import type { Handler } from "../cli/program.js";
import { ExitCode } from "../errors.js";

// `btw capacity`: each server's room by resources (issue 26) — allocatable from the facts its
// last `server check` recorded, what its tenants reserve and may use at most, the policy's
// ceiling —, the fleet's headroom in tenants of each plan, each Hetzner type's tenants per
// server and cost per tenant, and advice in words. Exit 3 when a server is over its policy.

const handler: Handler = async (ctx) => {
  const db = await ctx.db();
  const { listServers } = await import("../state/servers.js");
  const { fleetCapacity, capacityPolicy } = await import("../core/capacity.js");
  const servers = await listServers(db);
  const { serverLoads } = await import("../ops/tenant/placement.js");
  const loads = await serverLoads(ctx, db);
  const r = fleetCapacity({
    servers: servers.map((s) => ({ name: s.name, status: s.status, facts: s.facts, ...(loads.get(s.name) ?? { tenants: [], use: [] }) })),
    plans: ctx.config.plans,
    types: ctx.config.hetzner.serverTypes,
    policy: capacityPolicy(ctx.config),
  });
  const plans = Object.keys(ctx.config.plans);
  const gib = (mb: number) => `${(mb / 1024).toFixed(1)}G`;
  ctx.out.result(r, () =>
    [
      ctx.out.table(r.servers, [
        { header: "server", value: (s) => s.name },
        { header: "tenants", value: (s) => String(s.tenants), align: "right" },
        { header: "cpu reserved/alloc (caps)", value: (s) => (s.allocatable ? `${s.reserved.cpu}/${s.allocatable.cpu} (${s.limit.cpu})` : "unchecked") },
        { header: "memory reserved/alloc (limits)", value: (s) => (s.allocatable ? `${gib(s.reserved.memoryMb)}/${gib(s.allocatable.memoryMb)} (${gib(s.limit.memoryMb)}/${gib(s.limitCeiling!.memoryMb)})` : "unchecked") },
        { header: "used p95 (cpu, memory, volumes)", value: (s) => (s.used ? `${s.used.cpu}, ${gib(s.used.memoryMb)}, ${s.usedDiskGb === null ? "?" : `${s.usedDiskGb}G`}` : "not measured") },
        { header: "disk free", value: (s) => (s.allocatable?.diskFreeGb != null ? `${s.allocatable.diskFreeGb}G` : "?"), align: "right" },
        { header: `room (${plans.join("/")})`, value: (s) => plans.map((p) => s.headroom[p] ?? "?").join("/") },
        { header: "policy", value: (s) => (s.over.length ? `OVER: ${s.over.join(", ")}` : s.allocatable ? "ok" : "-") },
      ]),
      "",
      `fleet room: ${plans.map((p) => `${r.headroom[p]} ${p}`).join(", ")} (ready servers; memory limits may reach ${r.policy.overcommit.memory}× what a server can give)`,
      "",
      ctx.out.table(r.types, [
        { header: "type", value: (t) => t.type },
        { header: "price", value: (t) => `${t.priceEurMonth.toFixed(2)} €` },
        ...plans.map((p) => ({ header: `${p}: per server, €/tenant`, value: (t: (typeof r.types)[number]) => `${t.perServer[p]}, ${t.eurPerTenant[p] === null ? "-" : `${t.eurPerTenant[p]!.toFixed(2)} €`}` })),
      ]),
      ...(r.advice.length ? ["", ...r.advice.map((a) => `- ${a}`)] : []),
    ].join("\n"),
  );
  return r.over.length > 0 ? ExitCode.partial : ExitCode.ok;
};
export default handler;
