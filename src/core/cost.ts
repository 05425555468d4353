// `btw cost`: what the fleet costs per server, per tenant and per plan, from the server
// types' monthly prices in config. Pure.
//
// A server's price is shared by the tenants on it in proportion to their capacity weight
// (the plan's `weight`, what they take of the server). Servers that hold no tenants (the
// monitoring server, an empty or draining one) are platform overhead, shared by every tenant
// by weight too. The seed's target is an infrastructure cost under 3 € per tenant per month.

export const SEED_TARGET_EUR_PER_TENANT = 3;

export interface CostServer {
  name: string;
  /** server type (config hetzner.serverTypes key); null when unknown */
  type: string | null;
  /** monthly price in EUR; null when the type is unknown */
  priceEurMonth: number | null;
  capacity: number;
}

export interface CostTenant {
  slug: string;
  plan: string;
  weight: number;
  server: string;
}

export interface CostPlan {
  name: string;
  /** monthly price the customer pays; null = custom pricing */
  priceEurMonth: number | null;
}

/** A cost that is not a tenant server: the load balancer, edge proxies, IPv4 addresses, backup storage. Platform overhead, shared by weight. */
export interface CostItem {
  item: string;
  eurMonth: number | null;
  /** how it was counted: "2 × cx33", "12.3 GB measured × 0.0049 €/GB" */
  detail: string;
}

export interface CostReport {
  currency: "EUR";
  totalEurMonth: number;
  overheadEurMonth: number;
  tenants: number;
  perTenantAverage: number | null;
  target: { eurPerTenant: number; met: boolean | null };
  servers: Array<{ name: string; type: string | null; priceEurMonth: number | null; tenants: number; usedWeight: number; capacity: number; utilisation: number; costPerWeightUnit: number | null }>;
  perTenant: Array<{ slug: string; plan: string; server: string; costEurMonth: number | null }>;
  perPlan: Array<{ plan: string; tenants: number; revenueEurMonth: number | null; costEurMonth: number; marginEurMonth: number | null; marginPct: number | null; costPerTenant: number }>;
  unknownPrices: string[];
  /** what is not a tenant server, included in the total and the overhead */
  items: CostItem[];
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export function computeCost(servers: readonly CostServer[], tenants: readonly CostTenant[], plans: readonly CostPlan[], items: readonly CostItem[] = []): CostReport {
  const byServer = new Map<string, CostTenant[]>();
  for (const t of tenants) byServer.set(t.server, [...(byServer.get(t.server) ?? []), t]);
  const totalWeight = tenants.reduce((n, t) => n + t.weight, 0);
  const unknownPrices = servers.filter((s) => s.priceEurMonth === null).map((s) => s.name);
  const extra = items.reduce((n, i) => n + (i.eurMonth ?? 0), 0);
  const overhead = servers.filter((s) => !(byServer.get(s.name)?.length)).reduce((n, s) => n + (s.priceEurMonth ?? 0), 0) + extra;
  const total = servers.reduce((n, s) => n + (s.priceEurMonth ?? 0), 0) + extra;
  const overheadPerWeight = totalWeight > 0 ? overhead / totalWeight : 0;

  const serverRows = servers.map((s) => {
    const on = byServer.get(s.name) ?? [];
    const used = on.reduce((n, t) => n + t.weight, 0);
    return {
      name: s.name,
      type: s.type,
      priceEurMonth: s.priceEurMonth,
      tenants: on.length,
      usedWeight: used,
      capacity: s.capacity,
      utilisation: s.capacity > 0 ? round2(used / s.capacity) : 0,
      costPerWeightUnit: s.priceEurMonth !== null && used > 0 ? s.priceEurMonth / used : null,
    };
  });
  const perWeight = new Map(serverRows.map((s) => [s.name, s.costPerWeightUnit]));
  const perTenantRaw = tenants.map((t) => {
    const unit = perWeight.get(t.server);
    return { slug: t.slug, plan: t.plan, server: t.server, cost: unit === null || unit === undefined ? null : (unit + overheadPerWeight) * t.weight };
  });
  const perPlan = plans
    .map((p) => {
      const of = perTenantRaw.filter((t) => t.plan === p.name);
      const cost = of.reduce((n, t) => n + (t.cost ?? 0), 0);
      const revenue = p.priceEurMonth === null ? null : p.priceEurMonth * of.length;
      return {
        plan: p.name,
        tenants: of.length,
        revenueEurMonth: revenue,
        costEurMonth: round2(cost),
        marginEurMonth: revenue === null ? null : round2(revenue - cost),
        marginPct: revenue === null || revenue === 0 ? null : round2(((revenue - cost) / revenue) * 100),
        costPerTenant: of.length ? round2(cost / of.length) : 0,
      };
    })
    .filter((p) => p.tenants > 0);
  const average = tenants.length ? total / tenants.length : null;
  return {
    currency: "EUR",
    totalEurMonth: round2(total),
    overheadEurMonth: round2(overhead),
    tenants: tenants.length,
    perTenantAverage: average === null ? null : round2(average),
    target: { eurPerTenant: SEED_TARGET_EUR_PER_TENANT, met: average === null ? null : average <= SEED_TARGET_EUR_PER_TENANT },
    servers: serverRows.map((s) => ({ ...s, costPerWeightUnit: s.costPerWeightUnit === null ? null : round2(s.costPerWeightUnit) })),
    perTenant: perTenantRaw.map((t) => ({ slug: t.slug, plan: t.plan, server: t.server, costEurMonth: t.cost === null ? null : round2(t.cost) })),
    perPlan,
    unknownPrices: [...unknownPrices, ...items.filter((i) => i.eurMonth === null).map((i) => i.item)],
    items: items.map((i) => ({ ...i, eurMonth: i.eurMonth === null ? null : round2(i.eurMonth) })),
  };
}

/**
 * What the fleet pays for besides tenant servers (issue 26): the edge's load balancer and its
 * proxies when proxy.mode is edge (the proxies counted from config when the state does not
 * list them as servers), a public IPv4 per server, and the backup storage by the bytes its
 * completed backups hold. Traffic is not counted: Hetzner includes 20 TB a month per server
 * in the EU, and btw does not measure it.
 */
export function platformItems(input: {
  edge: { loadBalancerType: string; servers: number; serverType: string } | null;
  /** edge servers the state already lists (their price is in the server rows) */
  edgeServersInState: number;
  serverCount: number;
  backupBytes: number;
  serverPrice: (type: string) => number | null;
  prices: { loadBalancers: Readonly<Record<string, number>>; primaryIpv4EurMonth: number; backupStorageEurPerGbMonth: number };
}): CostItem[] {
  const out: CostItem[] = [];
  let ipv4 = input.serverCount;
  if (input.edge) {
    out.push({ item: `load balancer ${input.edge.loadBalancerType}`, eurMonth: input.prices.loadBalancers[input.edge.loadBalancerType] ?? null, detail: "the edge's entry point" });
    const missing = Math.max(0, input.edge.servers - input.edgeServersInState);
    if (missing > 0) {
      const each = input.serverPrice(input.edge.serverType);
      out.push({ item: `edge proxies`, eurMonth: each === null ? null : each * missing, detail: `${missing} × ${input.edge.serverType} (edge.servers, not in the state's servers)` });
      ipv4 += missing;
    }
  }
  out.push({ item: "public IPv4", eurMonth: ipv4 * input.prices.primaryIpv4EurMonth, detail: `${ipv4} × ${input.prices.primaryIpv4EurMonth} €` });
  const gb = input.backupBytes / 1e9;
  out.push({ item: "backup storage", eurMonth: gb * input.prices.backupStorageEurPerGbMonth, detail: `${round2(gb)} GB in completed backups × ${input.prices.backupStorageEurPerGbMonth} €/GB` });
  return out;
}
