import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// `tenant create` with bad input: exit 2 (1 for an unreachable server), one line, and
// nothing created anywhere — no tenant row, no audit row.
describe("tenant create: bad input", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    // registered without connecting: capacity 1 (too small for pro), and one nobody answers on
    expect((await home.run(["server", "add", "tiny", "--host", "127.0.0.1", "--port", "1", "--capacity", "1", "--no-verify"])).code).toBe(0);
    expect((await home.run(["server", "add", "dead", "--host", "127.0.0.1", "--port", "9", "--capacity", "10", "--no-verify"])).code).toBe(0);
    // as if it had passed `server check` (tenant isolation in force) and gone down since
    await stateSql(home, `update servers set status = 'active', facts = '{"isolation": "in-place"}'`);
  });
  afterAll(() => home?.cleanup());

  const nothingCreated = async () => {
    const list = JSON.parse((await home.run(["tenant", "list", "--json"])).stdout) as { tenants: unknown[] };
    expect(list.tenants).toEqual([]);
    const audit = JSON.parse((await home.run(["audit", "--json"])).stdout) as { entries: { action: string }[] };
    expect(audit.entries.filter((e) => e.action.startsWith("tenant."))).toEqual([]);
  };

  it.each([
    ["uppercase", ["Acme"], /uppercase/],
    ["a space", ["ac me"], /may only contain/],
    ["shell metacharacters", ["a;rm$(id)"], /may only contain/],
    ["a leading dash", ["-acme"], /must not start or end with '-'/],
    ["over 32 characters", ["a".repeat(33)], /3–32 characters/],
    ["reserved: www", ["www"], /reserved/],
    ["reserved: api", ["api"], /reserved/],
    ["reserved: admin", ["admin"], /reserved/],
  ])("a name with %s exits 2", async (_what, name, message) => {
    const r = await home.run(["tenant", "create", "--plan", "starter", "--", ...name]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it("an unknown plan exits 2 naming the plans", async () => {
    const r = await home.run(["tenant", "create", "acme", "--plan", "gold"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown plan 'gold'/);
    expect(r.stderr).toMatch(/starter, pro, business, enterprise/);
  });

  it("an unknown server exits 2", async () => {
    const r = await home.run(["tenant", "create", "acme", "--plan", "starter", "--server", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope/);
  });

  it("a full server exits 2", async () => {
    const r = await home.run(["tenant", "create", "acme", "--plan", "pro", "--server", "tiny"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tiny/);
  });

  it("an unknown timezone exits 2", async () => {
    const r = await home.run(["tenant", "create", "acme", "--plan", "starter", "--timezone", "Mars/Olympus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown timezone/);
  });

  // issue 22 item 10: a server whose tenant isolation rules were never found in force takes no tenant
  it("a ready server without its tenant isolation in force exits 2 naming `btw server isolate`, and creates nothing", async () => {
    expect((await home.run(["server", "add", "bare", "--host", "127.0.0.1", "--port", "10", "--capacity", "48", "--no-verify"])).code).toBe(0);
    await stateSql(home, "update servers set status = 'active' where name = 'bare'");
    try {
      const r = await home.run(["tenant", "create", "acme", "--plan", "pro", "--server", "bare"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/server 'bare' takes no tenants: its tenant isolation rules are not in force/);
      expect(r.stderr).toMatch(/btw server isolate bare/);
      await nothingCreated();
    } finally {
      await stateSql(home, "delete from servers where name = 'bare'");
    }
  });

  it("an unreachable server exits 1 and creates nothing", async () => {
    const r = await home.run(["tenant", "create", "acme", "--plan", "pro", "--server", "dead"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach server 'dead'/);
    await nothingCreated();
  });

  it("--dry-run prints the plan and changes nothing", async () => {
    const r = await home.run(["tenant", "create", "acme", "--plan", "pro", "--server", "dead", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = (JSON.parse(r.stdout) as { plan: { server: string; subnet: string; files: { path: string; mode: string }[] } }).plan;
    expect(plan.server).toBe("dead");
    expect(plan.subnet).toBe("10.220.0.0/26");
    expect(plan.files).toContainEqual({ path: "/opt/btw/tenants/acme/.env", mode: "0600", from: expect.any(String) });
    await nothingCreated();
  });

  afterAll(async () => {
    if (home) await nothingCreated();
  });
});
