// issue 22 item 12: a tenant stuck behind the maintenance page read healthy. After a restore,
// migration or upgrade was killed and nobody resumed it, `btw status` exited 0 (reproduced on
// the lab: a restore killed under way, the tenant `restoring` at 503, status 0).
// issue 22, Also: status looked at containers only. After another btw state rewrote the
// server's proxy, the demo's tenant answered 404 "Not found" through it while `btw status`
// said healthy and exited 0; each active tenant is now asked for through the proxy.
// Here the real `status` command runs against the real PostgreSQL state (tenant rows, the
// operations journal, custom domains); its server's Docker engine is a FAKE Docker API on a
// unix socket that lists the tenant's containers as healthy, reached through a stand-in for
// the SSH forward, and the SSH client's commands are answered by a FAKE host (its isolation
// rules, its proxy's answers per host name; behind the edge, an edge proxy's too) — the one
// seam replaced. Nothing dials a real server.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Ctx } from "../../../src/cli/context.js";
import type { TenantRoute } from "../../../src/core/commands/route-probe.js";
import { JOURNAL_KINDS } from "../../../src/core/tenant/unfinished.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { failStep, finishStep, startStep } from "../../../src/state/operations.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenant, updateTenantStatus, type TenantRow } from "../../../src/state/tenants.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { savedFilterTable } from "../../support/isolation.js";
import { answerRouteProbe, fakeDockerApi, healthyStack, N8N_HEALTHZ } from "../../support/fake-server.js";
import { insertTenantDomain } from "../../../src/state/tenant-domains.js";

const seam = vi.hoisted(() => ({ dockerSocket: "", routes: new Map<string, { status: number; body: string }>(), edgeRoutes: new Map<string, { status: number; body: string }>(), commands: [] as Array<{ on: string; argv: string[] }> }));

// the SSH boundary: a client whose forwarded Docker socket is the fake engine's
vi.mock("../../../src/ops/server/context.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/server/context.js")>()),
  sshFor: async (_ctx: unknown, s: { name: string }) => ({
    name: s.name,
    connect: async () => {},
    forwardUnixSocket: async () => ({ localPath: seam.dockerSocket, close: async () => {} }),
    run: async (argv: string[]) => {
      seam.commands.push({ on: s.name, argv });
      // the proxy, asked for each tenant's names; else `iptables-save`: the server's tenant
      // isolation rules in force (lab-a alone, the config's defaults)
      const stdout = answerRouteProbe(argv, s.name === "edge-a" ? seam.edgeRoutes : seam.routes) ?? savedFilterTable({ tenantSources: ["10.220.0.0/16"], privateRanges: ["10.0.0.0/16"], otherServers: [] });
      return { stdout, stderr: "", exitCode: 0 };
    },
  }),
}));

let tdb: TestDatabase;
let home: string;
let docker: Server;
let db: Db;
let acme: TenantRow;
let serverId = 0;

async function status(args: { json: boolean }): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on("data", (c: Buffer) => chunks.push(c));
  const io = {
    stdout,
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: { BTW_HOME: home, BTW_DATABASE_URL: tdb.url },
    cwd: home,
    stdinIsTTY: false,
    stderrIsTTY: false,
  };
  const ctx = new Ctx(io, { json: args.json, verbose: false, color: false, nonInteractive: true }, "btw status");
  try {
    await ctx.prepare();
    const { default: handler } = await import("../../../src/commands/status.js");
    const code = (await handler(ctx, [], {})) ?? 0;
    return { code, stdout: Buffer.concat(chunks).toString("utf8") };
  } finally {
    await ctx.close();
  }
}

/** The route probes the fake host was asked to run. */
const probes = () => seam.commands.filter((c) => answerRouteProbe(c.argv, new Map()) !== null);

type RouteDoc = TenantRoute;

interface StatusDoc {
  healthy: boolean;
  tenants: Array<{ tenant: string; status: string; health: string; route: RouteDoc | null; edgeRoutes: RouteDoc[]; unfinished: null | { operation: string; finish: string | null; undo: string | null; journal: { kind: string; step: string; status: string } | null } }>;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openDb({ url: tdb.url, dataDir: "unused" });
  await migrate(db);
  home = mkdtempSync(join(tmpdir(), "btw-status-unfinished-"));
  writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
  seam.dockerSocket = join(home, "docker.sock");
  // acme's three containers, running and healthy; its route answers as n8n does
  docker = await fakeDockerApi(seam.dockerSocket, () => healthyStack("acme"));
  seam.routes.set("acme.example.com", N8N_HEALTHZ);
  // a TEST-NET address: nothing dials it (the SSH seam is replaced)
  serverId = (await insertServer(db, { name: "lab-a", host: "192.0.2.1", capacity: 100, status: "active" })).id;
  acme = await insertTenant(db, { slug: "acme", plan: "starter", serverId, subnet: "10.231.0.0/26", status: "active" });
}, 120_000);

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  await new Promise<void>((r) => (docker ? docker.close(() => r()) : r()));
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("btw status and a tenant a mutation left mid-way", () => {
  it("with acme active and its containers healthy: healthy, exit 0", async () => {
    const r = await status({ json: true });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as StatusDoc;
    expect(doc.healthy).toBe(true);
    expect(doc.tenants).toEqual([expect.objectContaining({ tenant: "acme", status: "active", health: "healthy", unfinished: null })]);
  });

  it("a restore killed under way (acme restoring, its restore row still running): degraded, exit 3, naming the restore and the command that finishes it", async () => {
    await startStep(db, { kind: JOURNAL_KINDS.restore, step: "restore", tenantId: acme.id, serverId, details: { backup: "acme-20260301", priorStatus: "active", safetyBackup: "acme-safety", server: "lab-a" } });
    await updateTenantStatus(db, acme.id, "restoring");
    const r = await status({ json: true });
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout) as StatusDoc;
    expect(doc.healthy).toBe(false);
    expect(doc.tenants[0]).toMatchObject({
      tenant: "acme",
      status: "restoring",
      unfinished: {
        operation: "restore of backup acme-20260301",
        journal: { kind: "tenant.restore", step: "restore", status: "running" },
        finish: "btw restore acme --yes",
        undo: "btw restore acme --rollback --yes",
      },
    });
  });

  it("the text output says it in one line, with the commands", async () => {
    const r = await status({ json: false });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^acme\s+lab-a\s+starter\s+restoring\s+restoring\s/m);
    expect(r.stdout).toMatch(
      /^tenant acme is restoring: its restore of backup acme-20260301 stopped — started \S+, never finished \(unless a btw is still at it\); finish it: `btw restore acme --yes`, or undo it: `btw restore acme --rollback --yes`$/m,
    );
  });

  it("a failed migration left migrating says its error and the migrate command", async () => {
    const [restore] = (await db.query<{ id: number }>(`select id from operations where tenant_id = $1 and kind = 'tenant.restore'`, [acme.id])).rows;
    await finishStep(db, restore!.id);
    const op = await startStep(db, { kind: JOURNAL_KINDS.migrate, step: "migrate", tenantId: acme.id, serverId, details: { from: "lab-a", to: "lab-b", phase: "restored" } });
    await failStep(db, op.id, "compose up on lab-b timed out");
    await updateTenantStatus(db, acme.id, "migrating");
    const r = await status({ json: false });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^tenant acme is migrating: its migration to lab-b failed at restored \(compose up on lab-b timed out\); finish it: `btw tenant migrate acme --to lab-b`, or undo it: `btw tenant migrate acme --rollback --yes`$/m);
  });

  it("once it is finished (journal done, acme active again): healthy, exit 0 again", async () => {
    // as the re-run does: a new row for the step, done
    const rerun = await startStep(db, { kind: JOURNAL_KINDS.migrate, step: "migrate", tenantId: acme.id, serverId, details: { from: "lab-a", to: "lab-b", phase: "switched" } });
    await finishStep(db, rerun.id);
    await updateTenantStatus(db, acme.id, "active");
    const r = await status({ json: true });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as StatusDoc).tenants[0]).toMatchObject({ status: "active", health: "healthy", unfinished: null });
  });
});

describe("btw status and a tenant's route through its server's proxy", () => {
  it("healthy: acme's name asked of the proxy in one command over the server's connection — https on 443 at loopback (proxy.tls auto) — answered by n8n's healthz", async () => {
    seam.commands.length = 0;
    const r = await status({ json: true });
    expect(r.code).toBe(0);
    const row = (JSON.parse(r.stdout) as StatusDoc).tenants[0]!;
    expect(row).toMatchObject({ health: "healthy", edgeRoutes: [] });
    expect(row.route).toEqual({ via: "lab-a's proxy", ok: true, host: "acme.example.com", status: 200, excerpt: '{"status":"ok"}', error: null, hosts: [{ host: "acme.example.com", status: 200, excerpt: '{"status":"ok"}', error: null }] });
    expect(probes().map((c) => [c.on, ...c.argv.slice(4)])).toEqual([["lab-a", "https", "127.0.0.1", "443", "/healthz", "5", "16", "160", "acme.example.com"]]);
  });

  it("its route answering 404 \"Not found\" (another state rewrote the proxy) while its containers are healthy: degraded, exit 3, with the answer and the fix", async () => {
    seam.routes.delete("acme.example.com");
    const r = await status({ json: true });
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout) as StatusDoc;
    expect(doc.healthy).toBe(false);
    expect(doc.tenants[0]).toMatchObject({ tenant: "acme", status: "active", health: "degraded", route: { ok: false, host: "acme.example.com", status: 404, excerpt: "Not found", error: null } });
    const text = await status({ json: false });
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^acme\s+lab-a\s+starter\s+active\s+degraded\s+3\/3\s+404 "Not found"\s/m);
    expect(text.stdout).toMatch(/^tenant acme: acme\.example\.com answered 404 "Not found" through lab-a's proxy while its containers are healthy; `btw server bootstrap lab-a` renders the routes from the state again$/m);
  });

  it("a custom domain is asked too, in the same command; one that does not answer degrades the tenant", async () => {
    seam.routes.set("acme.example.com", N8N_HEALTHZ);
    await insertTenantDomain(db, { tenantId: acme.id, hostname: "shop.acme.test", webhook: false });
    seam.commands.length = 0;
    const r = await status({ json: true });
    expect(r.code).toBe(3);
    const row = (JSON.parse(r.stdout) as StatusDoc).tenants[0]!;
    expect(row.health).toBe("degraded");
    expect(row.route).toMatchObject({ ok: false, host: "shop.acme.test", status: 404 });
    expect(row.route!.hosts.map((h) => [h.host, h.status])).toEqual([["acme.example.com", 200], ["shop.acme.test", 404]]);
    expect(probes().map((c) => c.argv.slice(11))).toEqual([["acme.example.com", "shop.acme.test"]]);
  });

  it("every name answering n8n's healthz again: healthy, exit 0", async () => {
    seam.routes.set("shop.acme.test", N8N_HEALTHZ);
    const r = await status({ json: true });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as StatusDoc).tenants[0]).toMatchObject({ health: "healthy", route: { ok: true } });
  });

  it("a tenant that is not active is not asked (its route is the maintenance page): route null", async () => {
    await updateTenantStatus(db, acme.id, "suspended");
    seam.commands.length = 0;
    const r = await status({ json: true });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as StatusDoc).tenants[0]).toMatchObject({ status: "suspended", route: null });
    expect(probes()).toEqual([]);
    await updateTenantStatus(db, acme.id, "active");
  });
});

describe("behind the edge: each tenant asked for through the edge proxies too", () => {
  const yml = () => join(home, "btw.yml");
  beforeAll(() => writeFileSync(yml(), "domain: example.com\nproxy:\n  mode: edge\nedge:\n  proxies:\n    - name: edge-a\n      host: 192.0.2.50\n"));
  afterAll(() => writeFileSync(yml(), "domain: example.com\n"));

  it("the server's proxy in plain HTTP on 80 (TLS ends at the load balancer), and the edge proxy with the same names", async () => {
    seam.routes.set("acme.example.com", N8N_HEALTHZ);
    seam.routes.set("shop.acme.test", N8N_HEALTHZ);
    seam.edgeRoutes.set("acme.example.com", N8N_HEALTHZ);
    seam.edgeRoutes.set("shop.acme.test", N8N_HEALTHZ);
    seam.commands.length = 0;
    const r = await status({ json: true });
    const row = (JSON.parse(r.stdout) as StatusDoc).tenants[0]!;
    expect(probes().map((c) => [c.on, ...c.argv.slice(4, 7), ...c.argv.slice(11)]).sort()).toEqual([
      ["edge-a", "http", "127.0.0.1", "80", "acme.example.com", "shop.acme.test"],
      ["lab-a", "http", "127.0.0.1", "80", "acme.example.com", "shop.acme.test"],
    ]);
    expect(row).toMatchObject({ health: "healthy", route: { ok: true }, edgeRoutes: [{ via: "edge proxy edge-a", ok: true, host: "acme.example.com", status: 200 }] });
  });

  it("the edge proxy answering 404 for a name the server's proxy serves: degraded, naming `btw edge sync`", async () => {
    seam.edgeRoutes.delete("shop.acme.test");
    const r = await status({ json: true });
    expect(r.code).toBe(3);
    const row = (JSON.parse(r.stdout) as StatusDoc).tenants[0]!;
    expect(row).toMatchObject({ health: "degraded", route: { ok: true }, edgeRoutes: [{ via: "edge proxy edge-a", ok: false, host: "shop.acme.test", status: 404, excerpt: "Not found" }] });
    const text = await status({ json: false });
    expect(text.stdout).toMatch(/^tenant acme: shop\.acme\.test answered 404 "Not found" through edge proxy edge-a while its containers are healthy; `btw edge sync` renders the routes from the state again$/m);
  });
});
