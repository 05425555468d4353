import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// `btw cost` on a state with servers and tenants of each plan, against a hand computation
// (the same figures as test/unit/core/cost.test.ts, through the CLI and the real state):
//   fsn-1 (cpx32, 10.99 €): starter w1, pro w2, business w4; fsn-2 (cx33 label, 5.49 €):
//   starter w1 and enterprise w8; mon (role monitoring → cx33, 5.49 €): overhead.
//   plus what is not a tenant server (issue 26): 3 public IPv4 × 0.50 = 1.50, backup storage
//   2.5 GB × 0.0049 = 0.01225 → overhead 5.49 + 1.51225 = 7.00225;
//   total 23.48225 → 23.48 €; weights 16 → overhead 0.437640625 per unit;
//   fsn-1 unit 10.99/7 = 1.57; fsn-2 unit 5.49/9 = 0.61
//   starter a = 2.007640625 → 2.01; pro b = 4.01528125 → 4.02; business c = 8.0305625 → 8.03;
//   starter d = 1.047640625 → 1.05; enterprise e = 8.3811250 → 8.38
//   average 23.48225 / 5 = 4.69645 → 4.70 € (> 3 €); starter margin 98 − 3.05528125 = 94.94
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
    // the backup storage is counted by the bytes of completed backups (a failed one holds nothing)
    for (const [id, bytes, status] of [["b1", 2_000_000_000, "done"], ["b2", 500_000_000, "done"], ["b3", 9_000_000_000, "failed"]] as const) {
      await stateSql(home, `insert into backups (id, tenant_slug, location, size_bytes, sha256, status) values ($1, 'c-a', 'file:///b', $2, repeat('a', 64), $3)`, [id, bytes, status]);
    }
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
      items: Array<{ item: string; eurMonth: number | null; detail: string }>;
    };
    expect(c.totalEurMonth).toBe(23.48);
    expect(Object.fromEntries(c.perTenant.map((t) => [t.slug, t.costEurMonth]))).toEqual({ "c-a": 2.01, "c-b": 4.02, "c-c": 8.03, "c-d": 1.05, "c-e": 8.38 });
    expect(c.perTenantAverage).toBe(4.7);
    expect(c.items).toEqual([
      { item: "public IPv4", eurMonth: 1.5, detail: "3 × 0.5 €" },
      { item: "backup storage", eurMonth: 0.01, detail: "2.5 GB in completed backups × 0.0049 €/GB" },
    ]);
    expect(c.target.met).toBe(false);
    expect(c.perPlan.find((p) => p.plan === "starter")).toMatchObject({ tenants: 2, revenueEurMonth: 98, marginEurMonth: 94.94 });
    expect(c.perPlan.find((p) => p.plan === "enterprise")).toMatchObject({ tenants: 1, revenueEurMonth: null, marginEurMonth: null });
    const human = await home.run(["cost"]);
    expect(human.stdout).toMatch(/NOT met/);
    expect(human.stdout).toMatch(/public IPv4: 1\.50 € \(3 × 0\.5 €\)/);
    expect(human.stdout).toMatch(/traffic: not counted/);
  });
});
