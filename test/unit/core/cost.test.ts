import { describe, expect, it } from "vitest";
import { computeCost, platformItems } from "../../../src/core/cost.js";

// Checked against a hand computation:
//   s1 cpx32 10.99 €, tenants a (starter, w1), b (pro, w2), c (business, w4): used 7
//     → 10.99 / 7 = 1.57 € per weight unit
//   s2 cx33 5.49 €, tenant d (starter, w1): 5.49 per weight unit
//   mon cx33 5.49 €, no tenants: overhead, 5.49 / total weight 8 = 0.68625 per unit
//   a = (1.57 + 0.68625) × 1 = 2.25625 → 2.26; b = × 2 = 4.5125 → 4.51;
//   c = × 4 = 9.025 → 9.03; d = (5.49 + 0.68625) × 1 = 6.17625 → 6.18
//   total 21.97 €, 4 tenants → 5.4925 → 5.49 € per tenant (> 3 €: target not met)
//   starter: revenue 98, cost 2.25625 + 6.17625 = 8.4325 → margin 89.5675 → 89.57 (91.40 %)
describe("computeCost", () => {
  const servers = [
    { name: "s1", type: "cpx32", priceEurMonth: 10.99, capacity: 12 },
    { name: "s2", type: "cx33", priceEurMonth: 5.49, capacity: 12 },
    { name: "mon", type: "cx33", priceEurMonth: 5.49, capacity: 0 },
  ];
  const tenants = [
    { slug: "a", plan: "starter", weight: 1, server: "s1" },
    { slug: "b", plan: "pro", weight: 2, server: "s1" },
    { slug: "c", plan: "business", weight: 4, server: "s1" },
    { slug: "d", plan: "starter", weight: 1, server: "s2" },
  ];
  const plans = [
    { name: "starter", priceEurMonth: 49 },
    { name: "pro", priceEurMonth: 149 },
    { name: "business", priceEurMonth: 499 },
    { name: "enterprise", priceEurMonth: null },
  ];
  const r = computeCost(servers, tenants, plans);

  it("shares each server's price by weight and the tenant-less servers as overhead", () => {
    expect(r.totalEurMonth).toBe(21.97);
    expect(r.overheadEurMonth).toBe(5.49);
    expect(Object.fromEntries(r.perTenant.map((t) => [t.slug, t.costEurMonth]))).toEqual({ a: 2.26, b: 4.51, c: 9.03, d: 6.18 });
    // every euro is accounted for
    expect(r.perTenant.reduce((n, t) => n + t.costEurMonth!, 0)).toBeCloseTo(21.97, 1);
    expect(r.servers.find((s) => s.name === "s1")).toMatchObject({ tenants: 3, usedWeight: 7, utilisation: 0.58, costPerWeightUnit: 1.57 });
  });

  it("compares with the seed's 3 € per tenant", () => {
    expect(r.perTenantAverage).toBe(5.49);
    expect(r.target).toEqual({ eurPerTenant: 3, met: false });
  });

  it("margin per plan; plans without tenants left out", () => {
    expect(r.perPlan.map((p) => p.plan)).toEqual(["starter", "pro", "business"]);
    expect(r.perPlan[0]).toEqual({ plan: "starter", tenants: 2, revenueEurMonth: 98, costEurMonth: 8.43, marginEurMonth: 89.57, marginPct: 91.4, costPerTenant: 4.22 });
    expect(r.perPlan[2]).toMatchObject({ plan: "business", revenueEurMonth: 499, costEurMonth: 9.03, marginEurMonth: 489.98 });
  });

  it("a server of unknown price is named and costs its tenants nothing known", () => {
    const u = computeCost([{ name: "x", type: null, priceEurMonth: null, capacity: 12 }], [{ slug: "e", plan: "pro", weight: 2, server: "x" }], plans);
    expect(u.unknownPrices).toEqual(["x"]);
    expect(u.perTenant[0]!.costEurMonth).toBeNull();
  });
});

describe("platformItems: what the fleet pays besides tenant servers (issue 26)", () => {
  const prices = { loadBalancers: { lb11: 5.39 }, primaryIpv4EurMonth: 0.5, backupStorageEurPerGbMonth: 0.0049 };
  const serverPrice = (t: string) => ({ cx33: 5.49 })[t] ?? null;

  it("direct mode: an IPv4 per server and the backups' bytes", () => {
    const items = platformItems({ edge: null, edgeServersInState: 0, serverCount: 4, backupBytes: 250e9, serverPrice, prices });
    expect(items).toMatchObject([
      { item: "public IPv4", eurMonth: 2, detail: "4 × 0.5 €" },
      { item: "backup storage", detail: "250 GB in completed backups × 0.0049 €/GB" },
    ]);
    expect(items[1]!.eurMonth).toBeCloseTo(1.225, 9);
  });

  it("edge mode: the load balancer, the edge proxies the state does not list (and their IPv4)", () => {
    const items = platformItems({ edge: { loadBalancerType: "lb11", servers: 2, serverType: "cx33" }, edgeServersInState: 0, serverCount: 3, backupBytes: 0, serverPrice, prices });
    expect(items.slice(0, 3)).toEqual([
      { item: "load balancer lb11", eurMonth: 5.39, detail: "the edge's entry point" },
      { item: "edge proxies", eurMonth: 10.98, detail: "2 × cx33 (edge.servers, not in the state's servers)" },
      { item: "public IPv4", eurMonth: 2.5, detail: "5 × 0.5 €" },
    ]);
    // edge servers already in the state are in the server rows: not counted twice
    const listed = platformItems({ edge: { loadBalancerType: "lb11", servers: 2, serverType: "cx33" }, edgeServersInState: 2, serverCount: 5, backupBytes: 0, serverPrice, prices });
    expect(listed.map((i) => i.item)).toEqual(["load balancer lb11", "public IPv4", "backup storage"]);
  });

  it("an unknown price is null, and the report names it", () => {
    const items = platformItems({ edge: { loadBalancerType: "lb99", servers: 1, serverType: "zz" }, edgeServersInState: 0, serverCount: 1, backupBytes: 0, serverPrice, prices });
    const r = computeCost([], [], [], items);
    expect(r.unknownPrices).toEqual(["load balancer lb99", "edge proxies"]);
  });
});
