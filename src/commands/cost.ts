import type { Handler } from "../cli/program.js";
import { computeCost, platformItems } from "../core/cost.js";
import { ROLE_LABEL } from "../core/infra/spec.js";

// `btw cost`: monthly cost per server, per tenant and per plan, margin per plan, against the
// seed's 3 € per tenant. A server's type is its `btw-type` label (set with `server add
// --label`, or by `infra apply`), else the stack's type for its role (hetzner.serverType,
// hetzner.monitoringServerType); its price comes from hetzner.serverTypes.

export const TYPE_LABEL = "btw-type";

const handler: Handler = async (ctx) => {
  const db = await ctx.db();
  const { listServers } = await import("../state/servers.js");
  const { listTenants } = await import("../state/tenants.js");
  const h = ctx.config.hetzner;
  const servers = (await listServers(db)).map((s) => {
    const type = s.labels[TYPE_LABEL] ?? (s.labels[ROLE_LABEL] === "monitoring" ? h.monitoringServerType : h.serverType);
    return { name: s.name, type, priceEurMonth: h.serverTypes[type]?.priceEurMonth ?? null, capacity: s.capacity, role: s.labels[ROLE_LABEL] };
  });
  const tenants = (await listTenants(db))
    .filter((t) => t.serverName !== null)
    .map((t) => ({ slug: t.slug, plan: t.plan, weight: t.weight, server: t.serverName! }));
  const plans = Object.entries(ctx.config.plans).map(([name, p]) => ({ name, priceEurMonth: p.priceEurMonth }));
  const { rows } = await db.query<{ bytes: string | null }>(`select coalesce(sum(size_bytes), 0)::text as bytes from backups where status = 'done'`);
  const edge = ctx.config.proxy.mode === "edge" ? ctx.config.edge : null;
  const items = platformItems({
    // a hand-run edge (edge.proxies listed) is not Hetzner servers btw pays for
    edge: edge ? { loadBalancerType: edge.loadBalancerType, servers: edge.proxies?.length ? 0 : edge.servers, serverType: edge.serverType } : null,
    edgeServersInState: servers.filter((s) => (s.role ?? "") === "edge").length,
    serverCount: servers.length,
    backupBytes: Number(rows[0]?.bytes ?? 0),
    serverPrice: (type) => h.serverTypes[type]?.priceEurMonth ?? null,
    prices: h.prices,
  });
  const r = computeCost(servers, tenants, plans, items);
  const eur = (n: number | null) => (n === null ? "?" : `${n.toFixed(2)} €`);
  ctx.out.result(r, () =>
    [
      `fleet: ${eur(r.totalEurMonth)}/month for ${r.tenants} tenant(s) (overhead of servers without tenants: ${eur(r.overheadEurMonth)})`,
      `per tenant: ${eur(r.perTenantAverage)} on average — the seed's target is under ${r.target.eurPerTenant} €: ${r.target.met === null ? "no tenants" : r.target.met ? "met" : "NOT met"}`,
      "",
      ctx.out.table(r.servers, [
        { header: "server", value: (s) => s.name },
        { header: "type", value: (s) => s.type ?? "?" },
        { header: "price", value: (s) => eur(s.priceEurMonth) },
        { header: "tenants", value: (s) => String(s.tenants) },
        { header: "used", value: (s) => `${s.usedWeight}/${s.capacity} (${Math.round(s.utilisation * 100)} %)` },
      ]),
      "",
      r.perPlan.length
        ? ctx.out.table(r.perPlan, [
            { header: "plan", value: (p) => p.plan },
            { header: "tenants", value: (p) => String(p.tenants) },
            { header: "revenue", value: (p) => eur(p.revenueEurMonth) },
            { header: "cost", value: (p) => eur(p.costEurMonth) },
            { header: "per tenant", value: (p) => eur(p.costPerTenant) },
            { header: "margin", value: (p) => (p.marginEurMonth === null ? "custom pricing" : `${eur(p.marginEurMonth)} (${p.marginPct} %)`) },
          ])
        : "no tenants",
      "",
      "besides tenant servers (platform overhead, shared by weight):",
      ...r.items.map((i) => `  ${i.item}: ${eur(i.eurMonth)} (${i.detail})`),
      "  traffic: not counted (Hetzner includes 20 TB a month per server in the EU)",
      ...(r.unknownPrices.length ? [`no price known for: ${r.unknownPrices.join(", ")} (set the ${TYPE_LABEL} label or hetzner.serverTypes)`] : []),
    ].join("\n"),
  );
};
export default handler;
