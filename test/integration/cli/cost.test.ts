import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// `btw cost` on a state with servers and tenants of each plan, against a hand computation
// (the same figures as test/unit/core/cost.test.ts, through the CLI and the real state):
//   fsn-1 (cpx32, 10.99 €): starter w1, pro w2, business w4; fsn-2 (cx33 label, 5.49 €):
//   starter w1 and enterprise w8; mon (role monitoring → cx33, 5.49 €): overhead.
//   total 21.97 €; weights 16 → overhead 0.343125 per unit;
//   fsn-1 unit 10.99/7 = 1.57; fsn-2 unit 5.49/9 = 0.61
//   starter a = 1.913125 → 1.91; pro b = 3.82625 → 3.83; business c = 7.6525 → 7.65;
//   starter d = 0.953125 → 0.95; enterprise e = 7.625 → 7.63
//   average 21.97 / 5 = 4.394 → 4.39 € (> 3 €); starter margin 98 − 2.86625 = 95.13
describe("btw cost", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    for (const [name, cap, ip] of [["fsn-1", 12, "192.0.2.1"], ["fsn-2", 12, "192.0.2.2"], ["mon", 0, "192.0.2.3"]] as const) {
      const r = await home.run(["server", "add", name, "--host", ip, "--capacity", String(cap), "--no-verify"]);
      expect(r.code, r.stderr).toBe(0);
    }
    await stateSql(home, `update servers set labels = '{"btw-type":"cx33"}' where name = 'fsn-2'`);
    await stateSql(home, `update servers set labels = '{"btw-role":"monitoring"}' where name = 'mon'`);
    const rows: Array<[string, string, number, string, string]> = [
      ["c-a", "starter", 1, "fsn-1", "10.220.0.0/26"],
      ["c-b", "pro", 2, "fsn-1", "10.220.0.64/26"],
      ["c-c", "business", 4, "fsn-1", "10.220.0.128/26"],
      ["c-d", "starter", 1, "fsn-2", "10.220.0.0/26"],
      ["c-e", "enterprise", 8, "fsn-2", "10.220.0.64/26"],
    ];
    for (const [slug, plan, weight, server, subnet] of rows) {
      await stateSql(home, `insert into tenants (slug, plan, weight, server_id, subnet, status) select $1, $2, $3, id, $5::cidr, 'active' from servers where name = $4`, [slug, plan, weight, server, subnet]);
    }
    // a purged tenant costs nothing
    await stateSql(home, `insert into tenants (slug, plan, weight, server_id, status) select 'gone', 'pro', 2, id, 'deleted' from servers where name = 'fsn-1'`);
  });
  afterAll(() => home?.cleanup());

  it("prints cost per tenant and plan, margin, and the 3 € comparison", async () => {
    const r = await home.run(["cost", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as {
      totalEurMonth: number;
      perTenantAverage: number;
      target: { met: boolean };
      perTenant: Array<{ slug: string; costEurMonth: number }>;
      perPlan: Array<{ plan: string; tenants: number; revenueEurMonth: number | null; marginEurMonth: number | null }>;
    };
    expect(c.totalEurMonth).toBe(21.97);
    expect(Object.fromEntries(c.perTenant.map((t) => [t.slug, t.costEurMonth]))).toEqual({ "c-a": 1.91, "c-b": 3.83, "c-c": 7.65, "c-d": 0.95, "c-e": 7.63 });
    expect(c.perTenantAverage).toBe(4.39);
    expect(c.target.met).toBe(false);
    expect(c.perPlan.find((p) => p.plan === "starter")).toMatchObject({ tenants: 2, revenueEurMonth: 98, marginEurMonth: 95.13 });
    expect(c.perPlan.find((p) => p.plan === "enterprise")).toMatchObject({ tenants: 1, revenueEurMonth: null, marginEurMonth: null });
    const human = await home.run(["cost"]);
    expect(human.stdout).toMatch(/NOT met/);
  });
});
