import type { Handler } from "../cli/program.js";
import { computeCost } from "../core/cost.js";
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
    return { name: s.name, type, priceEurMonth: h.serverTypes[type]?.priceEurMonth ?? null, capacity: s.capacity };
  });
  const tenants = (await listTenants(db))
    .filter((t) => t.serverName !== null)
    .map((t) => ({ slug: t.slug, plan: t.plan, weight: t.weight, server: t.serverName! }));
  const plans = Object.entries(ctx.config.plans).map(([name, p]) => ({ name, priceEurMonth: p.priceEurMonth }));
  const r = computeCost(servers, tenants, plans);
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
      ...(r.unknownPrices.length ? [`no price known for: ${r.unknownPrices.join(", ")} (set the ${TYPE_LABEL} label or hetzner.serverTypes)`] : []),
    ].join("\n"),
  );
};
export default handler;
