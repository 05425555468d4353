import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// Issue 16's verbs with bad input: exit 2, one error line, nothing changed — no file written,
// no audit row, no server contacted (the only server answers nowhere).
describe("tenant export, tenant content prune, usage report --enforce: bad input", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    expect((await home.run(["server", "add", "dead", "--host", "127.0.0.1", "--port", "9", "--capacity", "10", "--no-verify"])).code).toBe(0);
    await stateSql(home, "insert into tenants (slug, plan, server_id, status) select 'acme', 'starter', id, 'active' from servers");
    await stateSql(home, "insert into tenants (slug, plan, server_id, status) select 'half', 'starter', id, 'provisioning' from servers");
  });
  afterAll(() => home?.cleanup());

  const exit2 = async (args: string[], message: RegExp) => {
    const r = await home.run(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  };
  const audited = async () => ((await stateSql(home, "select action from audit_log where action like 'tenant.export%' or action like 'tenant.content%' or action like 'usage.%'")) as unknown[]).length;

  it("export: an unknown tenant, a tenant being provisioned, an existing --out", async () => {
    await exit2(["tenant", "export", "nope"], /tenant 'nope' does not exist/);
    await exit2(["tenant", "export", "half"], /half is provisioning: only an active or suspended tenant/);
    const out = join(home.dir, "taken.tar.gz");
    writeFileSync(out, "keep me");
    await exit2(["tenant", "export", "acme", "--out", out], /exists; export never overwrites/);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    expect(existsSync(join(home.dir, "acme-export"))).toBe(false);
    expect(await audited()).toBe(0);
  });

  it("content prune: neither a tenant nor --all, both, an unknown or not-live tenant", async () => {
    await exit2(["tenant", "content", "prune"], /name one tenant or pass --all/);
    await exit2(["tenant", "content", "prune", "acme", "--all"], /name one tenant or pass --all/);
    await exit2(["tenant", "content", "prune", "nope"], /tenant 'nope' does not exist/);
    await exit2(["tenant", "content", "prune", "half"], /half is provisioning/);
    expect(await audited()).toBe(0);
  });

  it("content prune --dry-run prints the statement and the horizon, touches nothing", async () => {
    const r = await home.run(["tenant", "content", "prune", "--all", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { prune: { tenant: string; days: number; sql: string }[] };
    expect(doc.prune.map((p) => [p.tenant, p.days])).toEqual([["acme", 180]]);
    expect(doc.prune[0]!.sql).toContain("delete from content.keywords");
    expect(await audited()).toBe(0);
  });

  it("usage report: --dry-run without --enforce, --enforce with --csv, a bad month", async () => {
    await exit2(["usage", "report", "--dry-run"], /--dry-run goes with --enforce/);
    await exit2(["usage", "report", "--enforce", "--csv"], /drop --csv/);
    await exit2(["usage", "report", "--enforce", "--month", "2026-13"], /not a month/);
    const r = await home.run(["usage", "report", "--enforce", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ enforce: [] });
    expect(await audited()).toBe(0);
  });
});
