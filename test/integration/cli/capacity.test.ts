import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// `btw capacity` and placement by resources (issue 26) through the CLI and a real state:
//   big (cx33-like facts: 4 CPUs, 8 GiB, 70 GiB free) holds 6 starters — allocatable
//   7168 MiB, the ceiling for limits 10752 MiB, a starter's limits 1664 MiB (n8n 768 + Postgres
//   256 + Redis 128 + its task runner 512) and its reservation 720 MiB (512 + 96 + 16 + the
//   runner's 96): 6 × 1664 = 9984, the 6th is the last; it starts with 5 — and small (2 CPUs,
//   4 GiB RAM but a 3 GiB cgroup limit, as a VM slice): 2048 MiB allocatable, ceiling 3072 →
//   one starter (two would be 3328). `new` was never checked: no resources known.
const GiB = 2 ** 30;
// as `server check` records them (isolation in place: placement refuses a server without it)
const facts = (cpus: number, mem: number, disk: number, memLimit?: number) =>
  JSON.stringify({ cpus, memTotalBytes: mem, diskFreeBytes: disk, isolation: "in-place", ...(memLimit ? { memLimitBytes: memLimit } : {}) });

describe("btw capacity, and placement that counts resources", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    for (const [name, ip] of [["big", "192.0.2.1"], ["small", "192.0.2.2"], ["new", "192.0.2.3"]] as const) {
      const r = await home.run(["server", "add", name, "--host", ip, "--capacity", "100", "--no-verify"]);
      expect(r.code, r.stderr).toBe(0);
    }
    await stateSql(home, `update servers set status = 'active', facts = $1::jsonb where name = 'big'`, [facts(4, 8 * GiB, 70 * GiB)]);
    await stateSql(home, `update servers set status = 'active', facts = $1::jsonb where name = 'small'`, [facts(2, 4 * GiB, 40 * GiB, 3 * GiB)]);
    for (let i = 0; i < 5; i++) {
      await stateSql(home, `insert into tenants (slug, plan, weight, server_id, subnet, status) select $1, 'starter', 1, id, $2::cidr, 'active' from servers where name = 'big'`, [`b-${i}`, `10.220.${i}.0/26`]);
    }
    await stateSql(home, `insert into tenants (slug, plan, weight, server_id, subnet, status) select 's-0', 'pro', 2, id, '10.220.0.0/26'::cidr, 'active' from servers where name = 'small'`);
  });
  afterAll(() => home?.cleanup());

  it("--json: per server allocatable, reserved, limits, headroom per plan; the fleet's room; types and cost per tenant", async () => {
    const r = await home.run(["capacity", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as {
      servers: Array<{ name: string; allocatable: { cpu: number; memoryMb: number } | null; reserved: { memoryMb: number }; limit: { memoryMb: number }; headroom: Record<string, number | null>; over: string[] }>;
      headroom: Record<string, number>;
      types: Array<{ type: string; perServer: Record<string, number>; eurPerTenant: Record<string, number | null> }>;
      unchecked: string[];
      advice: string[];
    };
    const by = Object.fromEntries(c.servers.map((s) => [s.name, s]));
    // 5 starters: 5 × 720 = 3600 reserved, 5 × 1664 = 8320 of limits; 10752 − 8320 = 2432 left:
    // one more starter (1664), no pro (2816, its runner included)
    expect(by.big).toMatchObject({ allocatable: { cpu: 3.5, memoryMb: 7168 }, reserved: { memoryMb: 5 * 720 }, limit: { memoryMb: 5 * 1664 }, over: [] });
    expect(by.big!.headroom).toMatchObject({ starter: 1, pro: 0 });
    // 3 GiB cgroup limit, not the 4 GiB of RAM; a pro's limits 2816 (runner included) of the 3072 ceiling
    expect(by.small).toMatchObject({ allocatable: { cpu: 1.5, memoryMb: 2048 }, reserved: { memoryMb: 720 }, limit: { memoryMb: 2816 }, over: [] });
    expect(by.small!.headroom).toMatchObject({ starter: 0, pro: 0 });
    expect(by.new).toMatchObject({ allocatable: null });
    expect(c.unchecked).toEqual(["new"]);
    expect(c.headroom).toMatchObject({ starter: 1, pro: 0 });
    // an empty cx33 like big: ⌊10752 / 1664⌋ = 6 starters, ⌊10752 / 2816⌋ = 3 pros (by limits;
    // reservations would allow ⌊7168 / 720⌋ = 9); 5.49 € / 6 = 0.92 € per starter, still the
    // cheapest (cpx32 10.99 / 6 = 1.83, cpx42 19.99 / 13 = 1.54, ccx33 62.49 / 28 = 2.23)
    expect(c.types.find((t) => t.type === "cx33")).toMatchObject({ perServer: { starter: 6, pro: 3 }, eurPerTenant: { starter: 0.92 } });
    expect(c.advice.join("\n")).toMatch(/server check/);
    expect(c.advice.join("\n")).toMatch(/room for fewer than 2 more starter tenants: add a server — cx33 costs the least per starter tenant \(0\.92 €\/month, 6 per server\)/);
  });

  it("a create that does not fit names the short resource and changes nothing (exit 2)", async () => {
    const before = await stateSql(home, "select count(*)::int as n from tenants");
    const r = await home.run(["tenant", "create", "acme", "--plan", "pro", "--server", "small"]);
    expect(r.code).toBe(2);
    // small holds a pro: 720 + 720 reserved fit the 2048, but its 2816 MiB of limits leave 256
    // under the 3072 ceiling for another 2816
    expect(r.stderr).toMatch(/server 'small' is short of memory: a pro tenant may use up to 2816 MiB, 256 MiB left under the overcommit ceiling/);
    expect(await stateSql(home, "select count(*)::int as n from tenants")).toEqual(before);
  });

  it("set-plan and migrate count resources too: refused naming memory, nothing changed", async () => {
    const sp = await home.run(["tenant", "set-plan", "s-0", "business"]);
    expect(sp.code, sp.stderr).toBe(2);
    // s-0 itself not counted: the whole 3072 ceiling, short of a business's 6144 (its two runners included)
    expect(sp.stderr).toMatch(/server 'small' is short of memory: a business tenant may use up to 6144 MiB, 3072 MiB left under the overcommit ceiling/);
    expect(await stateSql(home, "select plan from tenants where slug = 's-0'")).toEqual([{ plan: "pro" }]);
    const mg = await home.run(["tenant", "migrate", "b-0", "--to", "small", "--yes"]);
    expect(mg.code).not.toBe(0);
    expect(mg.stderr).toMatch(/server 'small' is short of memory: a starter tenant may use up to 1664 MiB, 256 MiB left/);
    expect(await stateSql(home, "select s.name from tenants t join servers s on s.id = t.server_id where t.slug = 'b-0'")).toEqual([{ name: "big" }]);
  });

  it("a server over its policy makes capacity exit 3 and say so", async () => {
    // big: 5 + 4 = 9 starters, 9 × 1664 = 14976 MiB of limits over the 10752 ceiling (their
    // 9 × 720 = 6480 reserved still fit the 7168)
    for (let i = 0; i < 4; i++) {
      await stateSql(home, `insert into tenants (slug, plan, weight, server_id, subnet, status) select $1, 'starter', 1, id, $2::cidr, 'active' from servers where name = 'big'`, [`o-${i}`, `10.221.${i}.0/26`]);
    }
    const r = await home.run(["capacity"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/OVER: memory/);
    expect(r.stdout).toMatch(/big is over its policy \(memory\)/);
  });

  it("fleet rebalance plans the fewest moves that bring big under its policy; --apply --dry-run says the same and moves nothing", async () => {
    // big: 9 starters, 14976 MiB of limits (runners included) over a 10752 ceiling: three must
    // leave (6 × 1664 = 9984 fits, 7 × 1664 = 11648 does not); spare (16 GiB: 15360 allocatable,
    // ceiling 23040) has room; small (a pro: 256 MiB under its ceiling) has none
    const r0 = await home.run(["fleet", "rebalance", "--json"]);
    expect(r0.code).toBe(3);
    expect(JSON.parse(r0.stdout).unresolved).toEqual([{ server: "big", over: ["memory"], reason: "no other server has room for any of its tenants: add a server" }]);
    expect((await home.run(["server", "add", "spare", "--host", "192.0.2.4", "--capacity", "100", "--no-verify"])).code).toBe(0);
    await stateSql(home, `update servers set status = 'active', facts = $1::jsonb where name = 'spare'`, [facts(4, 16 * GiB, 100 * GiB)]);
    const r = await home.run(["fleet", "rebalance", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { moves: Array<{ tenant: string; from: string; to: string; why: string[] }>; unresolved: unknown[] };
    expect(plan.moves).toHaveLength(3);
    expect(plan.moves.every((m) => m.from === "big" && m.to === "spare" && m.why.join() === "memory")).toBe(true);
    expect(plan.unresolved).toEqual([]);
    const dry = await home.run(["fleet", "rebalance", "--apply", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/3 move\(s\):\n {2}1\. \S+ \(starter\) big → spare/);
    expect(await stateSql(home, "select count(*)::int as n from tenants t join servers s on s.id = t.server_id where s.name = 'spare'")).toEqual([{ n: 0 }]);
  });

  it("fleet rebalance --spread: after the policy's moves, one busy tenant more leaves big for spare by measured CPU (p95 of usage samples); --max-moves alone is refused", async () => {
    // every tenant on big measured at 0.35 CPUs (three samples, p95 0.35): after the three
    // policy moves big uses 6 × 0.35 = 2.1 of its 3.5 CPUs (0.6, busy) and spare 1.05 (0.3):
    // one more starter moves (big 0.5, spare 0.4); the next would only swap them
    for (const cpu of [0.2, 0.35, 0.3]) {
      await stateSql(home, `insert into resource_samples (tenant_id, server_id, taken_at, memory_bytes, cpu_cores) select t.id, t.server_id, now() - make_interval(mins => $1), 300 * 1048576, $2 from tenants t join servers s on s.id = t.server_id where s.name = 'big'`, [Math.round(cpu * 100), cpu]);
    }
    const r = await home.run(["fleet", "rebalance", "--spread", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { moves: Array<{ tenant: string; from: string; to: string; why: string[]; spread?: unknown }> };
    expect(plan.moves.map((m) => [m.from, m.to, m.why.join(), m.spread ?? null])).toEqual([
      ["big", "spare", "memory", null],
      ["big", "spare", "memory", null],
      ["big", "spare", "memory", null],
      ["big", "spare", "cpu", { resource: "cpu", from: [0.6, 0.5], to: [0.3, 0.4] }],
    ]);
    expect(new Set(plan.moves.map((m) => m.tenant)).size).toBe(4);
    const text = await home.run(["fleet", "rebalance", "--spread"]);
    expect(text.stdout).toMatch(/4\. \S+ \(starter\) big → spare {2}\(big uses 60 % of its CPU → 50 %, spare 30 % → 40 %\)/);
    // the bound holds; without --spread the plan is the policy's alone
    expect(JSON.parse((await home.run(["fleet", "rebalance", "--json"])).stdout).moves).toHaveLength(3);
    const bad = await home.run(["fleet", "rebalance", "--max-moves", "2"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")[0]).toBe("error: --max-moves bounds the spreading moves: it needs --spread");
  });
});
