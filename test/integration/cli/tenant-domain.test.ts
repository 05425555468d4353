import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorLines, stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { domainChallengeToken } from "../../../src/core/edge/domains.js";
import { startFakeDns, type FakeRecords } from "../../support/fake-dns.js";

// `btw tenant domain` against the real state and a fake DNS server, with tenants on a
// registered server nobody answers on: everything before the first SSH connection — input,
// DNS check, duplicates, the table, the journal — and what an unreachable server leaves
// (a row the re-run finishes, a removal the re-run finishes).
describe("tenant domain", () => {
  let home: BtwHome;
  let dns: Awaited<ReturnType<typeof startFakeDns>>;
  let acmeId: number;
  const records: Record<string, FakeRecords> = {
    // every tenant's name resolves to the shared edge address (the wildcard record)
    "acme.example.com": { a: ["203.0.113.10"] },
    "beta.example.com": { a: ["203.0.113.10"] },
    "app.customer.com": { cname: "acme.example.com" },
    "www.customer.com": { a: ["203.0.113.10"] },
    "wrong.customer.com": { cname: "elsewhere.hoster.net", a: ["198.51.100.7"] },
    // leads to the edge, but through beta's name: not acme's
    "stolen.customer.com": { cname: "beta.example.com", a: ["203.0.113.10"] },
    // the edge's address, and no TXT record (or beta's token): proves nothing
    "apex-customer.com": { a: ["203.0.113.10"] },
    "stale.customer.com": { a: ["203.0.113.10"] },
    // direct mode: the tenant server's own address is the edge too
    "direct.customer.com": { a: ["127.0.0.1"] },
  };
  const run = (args: string[]) => home.run(args, { env: { BTW_DNS_SERVERS: dns.address } });
  const rows = async () => (await stateSql(home, "select t.slug, d.hostname, d.webhook from tenant_domains d join tenants t on t.id = d.tenant_id order by d.hostname")) as Array<{ slug: string; hostname: string; webhook: boolean }>;
  const audits = async () => (await stateSql(home, "select action from audit_log where action like 'tenant.domain%'")) as unknown[];

  beforeAll(async () => {
    dns = await startFakeDns(records);
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    expect((await home.run(["server", "add", "dead", "--host", "127.0.0.1", "--port", "9", "--capacity", "10", "--no-verify"])).code).toBe(0);
    await stateSql(home, "update servers set status = 'active'");
    await stateSql(home, `insert into tenants (slug, plan, server_id, subnet, status) select 'acme', 'starter', id, '10.220.0.64/26'::cidr, 'active' from servers`);
    await stateSql(home, `insert into tenants (slug, plan, server_id, subnet, status) select 'beta', 'starter', id, '10.220.0.128/26'::cidr, 'active' from servers`);
    // the TXT tokens prove the names that only point at the edge's addresses (the fake server reads the table per query)
    const id = ((await stateSql(home, "select id from tenants where slug = 'acme'")) as Array<{ id: number }>)[0]!.id;
    acmeId = id;
    for (const h of ["www.customer.com", "direct.customer.com"]) records[`_btw-challenge.${h}`] = { txt: [domainChallengeToken({ id, domain: "example.com" }, h)] };
    records["_btw-challenge.stale.customer.com"] = { txt: [domainChallengeToken({ id: id + 1, domain: "example.com" }, "stale.customer.com")] };
  }, 120_000);
  afterAll(async () => {
    home?.cleanup();
    await dns?.close();
  });

  it.each([
    ["not a DNS name", "app_1.customer.com", /invalid hostname "app_1\.customer\.com": label "app_1"/],
    ["an address", "203.0.113.10", /an address, not a DNS name/],
    ["a name of the platform", "beta.example.com", /names under example\.com are the tenants' own names/],
    ["a wildcard", "*.customer.com", /wildcards/],
  ])("add with %s exits 2 in one line, nothing stored", async (_what, host, message) => {
    const r = await run(["tenant", "domain", "add", "acme", host]);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(await rows()).toEqual([]);
  });

  it("add for an unknown tenant exits 2", async () => {
    const r = await run(["tenant", "domain", "add", "nope", "app.customer.com"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tenant 'nope' does not exist/);
  });

  it("add refuses a hostname whose DNS leads elsewhere, naming what to set (exit 2, nothing stored)", async () => {
    const r = await run(["tenant", "domain", "add", "acme", "wrong.customer.com"]);
    expect(r.code, r.stderr).toBe(2);
    const token = domainChallengeToken({ id: acmeId, domain: "example.com" }, "wrong.customer.com");
    expect(errorLines(r.stderr)).toEqual([
      `error: wrong.customer.com resolves to 198.51.100.7 (CNAME elsewhere.hoster.net), not to the edge: point it at acme.example.com (CNAME), or at 127.0.0.1, 203.0.113.10 (A/AAAA) with the TXT record _btw-challenge.wrong.customer.com "${token}", or pass --skip-dns-check`,
    ]);
    expect(await rows()).toEqual([]);
  });

  it("add refuses a CNAME to another tenant's name in one line (exit 2, nothing stored), though it leads to the edge", async () => {
    const r = await run(["tenant", "domain", "add", "acme", "stolen.customer.com"]);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual(["error: stolen.customer.com is a CNAME to beta.example.com, a platform name that is not acme's: point the CNAME at acme.example.com"]);
    expect(await rows()).toEqual([]);
  });

  it("add refuses the edge's address without the TXT token (or with another's), printing the record to add; the token is the same on every run", async () => {
    const token = domainChallengeToken({ id: acmeId, domain: "example.com" }, "apex-customer.com");
    const lines: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const r = await run(["tenant", "domain", "add", "acme", "apex-customer.com"]);
      expect(r.code, r.stderr).toBe(2);
      lines.push(errorLines(r.stderr));
    }
    expect(lines[0]).toEqual([
      `error: apex-customer.com resolves to the edge, but an address does not prove it is acme's: add the TXT record _btw-challenge.apex-customer.com "${token}" (or point a CNAME at acme.example.com), or pass --skip-dns-check`,
    ]);
    expect(lines[1]).toEqual(lines[0]);
    const stale = await run(["tenant", "domain", "add", "acme", "stale.customer.com"]);
    expect(stale.code, stale.stderr).toBe(2);
    expect(errorLines(stale.stderr)).toEqual([
      `error: stale.customer.com resolves to the edge, but TXT _btw-challenge.stale.customer.com does not hold acme's token: set it to "${domainChallengeToken({ id: acmeId, domain: "example.com" }, "stale.customer.com")}" (or point a CNAME at acme.example.com), or pass --skip-dns-check`,
    ]);
    expect(await rows()).toEqual([]);
  });

  it("add --dry-run checks DNS (CNAME, or the edge's address with the TXT token) and stores nothing", async () => {
    for (const [host, via] of [["app.customer.com", "cname"], ["WWW.Customer.com.", "address"], ["direct.customer.com", "address"]] as const) {
      const r = await run(["tenant", "domain", "add", "acme", host, "--webhook-url", "--dry-run", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, tenant: "acme", hostname: host.toLowerCase().replace(/\.$/, ""), webhook: true, dns: { ok: true, via } });
    }
    expect(await rows()).toEqual([]);
    expect(await audits()).toEqual([]);
  });

  it("add stores the row first: an unreachable server fails it (exit 1, hint to re-run), the row and a failed journal step stay", async () => {
    const r = await run(["tenant", "domain", "add", "acme", "app.customer.com", "--webhook-url"]);
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/adding app\.customer\.com for acme did not finish/);
    expect(r.stderr).toMatch(/re-run `btw tenant domain add acme app\.customer\.com` to finish/);
    expect(await rows()).toEqual([{ slug: "acme", hostname: "app.customer.com", webhook: true }]);
    const ops = (await stateSql(home, "select step, status from operations where kind = 'tenant.domain'")) as Array<{ step: string; status: string }>;
    expect(ops).toEqual([{ step: "add", status: "failed" }]);
    expect(await audits()).toEqual([]);
  });

  it("another tenant cannot take the hostname (exit 2), and the database refuses a duplicate too", async () => {
    const r = await run(["tenant", "domain", "add", "beta", "app.customer.com", "--skip-dns-check"]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(["error: app.customer.com is already a domain of tenant acme"]);
    await expect(stateSql(home, "insert into tenant_domains (tenant_id, hostname) select id, 'app.customer.com' from tenants where slug = 'beta'")).rejects.toThrow(/unique|duplicate/);
  });

  it("one webhook domain per tenant, enforced by the table", async () => {
    await stateSql(home, "insert into tenant_domains (tenant_id, hostname) select id, 'www.customer.com' from tenants where slug = 'acme'");
    await expect(stateSql(home, "update tenant_domains set webhook = true where hostname = 'www.customer.com'")).rejects.toThrow(/unique|duplicate/);
    await stateSql(home, "delete from tenant_domains where hostname = 'www.customer.com'");
  });

  it("tenant show lists the tenant's domains", async () => {
    const r = await run(["tenant", "show", "acme", "--json"]);
    expect((JSON.parse(r.stdout) as { domains: unknown }).domains).toEqual([{ hostname: "app.customer.com", webhook: true }]);
    expect((await run(["tenant", "show", "acme"])).stdout).toMatch(/^domains {4}app\.customer\.com \(webhooks\)$/m);
  });

  it("list shows the domains, of one tenant or all", async () => {
    const all = await run(["tenant", "domain", "list", "--json"]);
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as { domains: unknown[] }).domains).toMatchObject([{ tenant: "acme", hostname: "app.customer.com", webhook: true }]);
    const beta = await run(["tenant", "domain", "list", "beta", "--json"]);
    expect(JSON.parse(beta.stdout)).toEqual({ domains: [] });
    expect((await run(["tenant", "domain", "list"])).stdout).toMatch(/acme\s+app\.customer\.com\s+yes/);
  });

  it("remove: --dry-run names what changes; without --yes it refuses; not a domain of the tenant exits 2", async () => {
    const dry = await run(["tenant", "domain", "remove", "acme", "app.customer.com", "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, tenant: "acme", hostname: "app.customer.com", found: true, webhook: true });
    const noYes = await run(["tenant", "domain", "remove", "acme", "app.customer.com"]);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/refusing without confirmation/);
    const other = await run(["tenant", "domain", "remove", "beta", "app.customer.com", "--yes"]);
    expect(other.code).toBe(2);
    expect(errorLines(other.stderr)).toEqual(["error: app.customer.com is not a domain of tenant beta"]);
    expect(await rows()).toHaveLength(1);
  });

  it("remove deletes the row first; the server unreachable, a re-run finishes the removal instead of saying it is unknown", async () => {
    const r = await run(["tenant", "domain", "remove", "acme", "app.customer.com", "--yes"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/removing app\.customer\.com for acme did not finish/);
    expect(await rows()).toEqual([]);
    const again = await run(["tenant", "domain", "remove", "acme", "app.customer.com", "--yes"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/finishing the interrupted removal of app\.customer\.com/);
    // and a hostname never added is simply unknown
    const unknown = await run(["tenant", "domain", "remove", "acme", "www.customer.com", "--yes"]);
    expect(unknown.code).toBe(2);
    expect(errorLines(unknown.stderr)).toEqual(["error: www.customer.com is not a domain of tenant acme"]);
  });
});
