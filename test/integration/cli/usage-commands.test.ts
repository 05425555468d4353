// `btw usage collect` and `btw usage report --enforce` run as the operator runs them (argv
// through the real program, src/cli/main.ts) against a real PostgreSQL state and a REAL n8n
// on PostgreSQL standing for the tenant's: collect's query runs in n8n's own database, the
// quota notices go to a fake webhook and into quota_notices, and --enforce unpublishes
// through n8n's public API. One seam is replaced, the SSH boundary (`sshFor`): `docker
// inspect` of the tenant's n8n answers an address, the TCP forward to it lands on the test
// n8n, and the forwarded Docker socket is a FAKE Docker API whose `exec` runs psql's
// statement in that database.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../../src/cli/main.js";
import { packageRoot } from "../../../src/package-root.js";
import type { N8nClient } from "../../../src/remote/n8n.js";
import { createMasterKeyFile, loadMasterKey } from "../../../src/secrets/master-key.js";
import { storeSecrets } from "../../../src/ops/tenant-secrets.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenant } from "../../../src/state/tenants.js";
import { recordWorkflowDeployment } from "../../../src/state/workflow-deployments.js";
import { startFakeWebhook, type FakeWebhook } from "../../support/fake-webhook.js";
import { bootstrapN8n, N8N_START_TIMEOUT_MS, startN8n, type TestN8n } from "../../support/n8n.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

const seam = vi.hoisted(() => ({ n8nPort: 0, dockerSocket: "", forwards: [] as string[] }));

// the SSH boundary: acme's n8n is at 10.220.0.5 on its edge network; the forward to it is the test n8n
vi.mock("../../../src/ops/server/context.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/server/context.js")>()),
  sshFor: async (_ctx: unknown, s: { name: string }) => ({
    name: s.name,
    connect: async () => {},
    close: async () => {},
    run: async (argv: readonly string[]) =>
      argv[0] === "docker" && argv[1] === "inspect" && argv.at(-1) === "btw-acme-n8n"
        ? { stdout: JSON.stringify({ "btw-acme-edge": { IPAddress: "10.220.0.5" } }) + "\n", stderr: "", exitCode: 0 }
        : { stdout: "", stderr: `not in this fake: ${argv.join(" ")}`, exitCode: 1 },
    forwardTcp: async (host: string, port: number) => {
      seam.forwards.push(`${host}:${port}`);
      return { localPort: seam.n8nPort, close: async () => {} };
    },
    forwardUnixSocket: async () => ({ localPath: seam.dockerSocket, close: async () => {} }),
  }),
}));

/** The `type` each `GET /system/df` asked for (the fake engine records it). */
const dfQueries: string[] = [];

/** FAKE Docker Engine API: `docker exec` of psql in btw-acme-postgres runs its -c statement in `databaseUrl`. */
function fakeDockerApi(socketPath: string, databaseUrl: string): Promise<Server> {
  const execs = new Map<string, string[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "").replace(/^\/v[\d.]+/, "");
      const create = /^\/containers\/([^/]+)\/exec$/.exec(path);
      if (req.method === "POST" && create?.[1] === "btw-acme-postgres") {
        const id = `exec-${execs.size + 1}`;
        execs.set(id, (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Cmd: string[] }).Cmd);
        return void res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ Id: id }));
      }
      const inspect = /^\/exec\/([^/]+)\/json$/.exec(path);
      if (req.method === "GET" && inspect && execs.has(inspect[1]!)) {
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ Running: false, ExitCode: 0 }));
      }
      // the tenant's running containers (collect's resource sample): the list filtered by its
      // label, then each one's stats — Docker's shapes, fixed figures (acme's three services)
      if (req.method === "GET" && path.startsWith("/containers/json")) {
        const filters = JSON.parse(new URL(req.url ?? "", "http://x").searchParams.get("filters") ?? "{}") as { label?: string[] };
        const acme = (filters.label ?? []).includes("btw.tenant=acme");
        const list = acme ? ["postgres", "redis", "n8n"].map((svc) => ({ Id: `acme-${svc}`, Names: [`/btw-acme-${svc}`], Labels: { "btw.tenant": "acme", "btw.service": svc } })) : [];
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(list));
      }
      // the volumes' sizes (collect's disk sample), asked once per server, volumes only
      if (req.method === "GET" && path.startsWith("/system/df")) {
        dfQueries.push(new URL(req.url ?? "", "http://x").searchParams.get("type") ?? "");
        const vol = (name: string, tenant: string, mib: number) => ({ Name: name, Labels: { "btw.tenant": tenant }, UsageData: { Size: mib * 2 ** 20, RefCount: 1 } });
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ Volumes: [vol("btw-acme-pgdata", "acme", 60), vol("btw-acme-n8ndata", "acme", 2), vol("btw-other-pgdata", "other", 500)] }));
      }
      const stats = /^\/containers\/(acme-[a-z0-9]+)\/stats/.exec(path);
      if (req.method === "GET" && stats) {
        const mib = { "acme-postgres": 40, "acme-redis": 4, "acme-n8n": 400 }[stats[1]!] ?? 0;
        return void res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            memory_stats: { usage: (mib + 10) * 2 ** 20, stats: { total_inactive_file: 10 * 2 ** 20 } },
            cpu_stats: { cpu_usage: { total_usage: 2_100_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
            precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 18_000_000_000 },
          }),
        );
      }
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `not in this fake: ${req.method} ${path}` }));
    });
  });
  // exec start: the raw stream, one stdout frame with psql -At's answer
  server.on("upgrade", (req, socket: net.Socket) => {
    const id = /^(?:\/v[\d.]+)?\/exec\/([^/]+)\/start$/.exec(req.url ?? "")?.[1];
    const cmd = id ? execs.get(id) : undefined;
    if (!cmd || cmd[0] !== "psql" || cmd.indexOf("-c") < 0) return void socket.destroy();
    socket.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    void (async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        const r = await c.query({ text: cmd[cmd.indexOf("-c") + 1]!, rowMode: "array" });
        const out = Buffer.from(r.rows.map((row: unknown[]) => row.join("|")).join("\n") + "\n");
        const head = Buffer.alloc(8);
        head.writeUInt8(1, 0);
        head.writeUInt32BE(out.length, 4);
        socket.end(Buffer.concat([head, out]));
      } finally {
        await c.end();
      }
    })().catch(() => socket.destroy());
  });
  return new Promise((r) => server.listen(socketPath, () => r(server)));
}

const scheduled = (name: string) => ({
  name,
  nodes: [
    { name: "Weekly", type: "n8n-nodes-base.scheduleTrigger", typeVersion: 1.2, position: [0, 0] as [number, number], parameters: { rule: { interval: [{ field: "cronExpression", expression: "0 2 * * 1" }] } } },
    { name: "Noop", type: "n8n-nodes-base.noOp", typeVersion: 1, position: [220, 0] as [number, number], parameters: {} },
  ],
  connections: { Weekly: { main: [[{ node: "Noop", type: "main", index: 0 }]] } },
  settings: { executionOrder: "v1" },
});

const THIS_MONTH = new Date().toISOString().slice(0, 7); // collect's default (UTC)
let tenantDb: TestDatabase; // n8n's database: the tenant's
let stateDb: TestDatabase;
let n8n: TestN8n;
let api: N8nClient;
let docker: Server;
let hook: FakeWebhook;
let home: string;
let db: Db;
const ids = new Map<string, string>();

/** One `btw …` invocation in this process: its exit code, stdout, stderr. */
async function btw(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const code = await run(argv, {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: { BTW_HOME: home, BTW_DATABASE_URL: stateDb.url, BTW_WEBHOOK_URL: hook.url, NO_COLOR: "1" },
    cwd: home,
    stdinIsTTY: false,
    stderrIsTTY: false,
  });
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

const published = async () => (await api.listWorkflows({ active: true })).filter((w) => w.active).map((w) => w.name).sort();
const usageRow = async (metric: string) =>
  (await db.query<{ value: number }>("select value::int as value from usage u join tenants t on t.id = u.tenant_id where t.slug = 'acme' and metric = $1 and period = $2::date", [metric, `${THIS_MONTH}-01`])).rows.map((r) => r.value);
const notices = async () =>
  (await db.query<{ row: string }>("select tenant_slug || ' ' || metric || ' ' || level || ' ' || value || '/' || quota || ' ' || to_char(period, 'YYYY-MM') as row from quota_notices order by notified_at, level")).rows.map((r) => r.row);
const sent = () => hook.received.map((r) => (r.json as { event: string }).event);
const journal = async () =>
  (await db.query<{ status: string; details: { workflows: unknown; quota: number; published: number } }>("select status, details from operations where kind = 'usage.enforce' order by id")).rows.map((r) => ({
    status: r.status,
    workflows: r.details.workflows,
    quota: r.details.quota,
    published: r.details.published,
  }));
const audits = async (action: string) =>
  (await db.query<{ target: string; details: { workflow: string; workflowId: string } }>("select target, details from audit_log where action = $1 order by id", [action])).rows;

beforeAll(async () => {
  [tenantDb, stateDb, hook] = await Promise.all([createTestDatabase(), createTestDatabase(), startFakeWebhook()]);
  // the content schema, as `tenant create` applies it to the tenant's database
  const c = new pg.Client({ connectionString: tenantDb.url });
  await c.connect();
  await c.query(readFileSync(join(packageRoot(), "workflows", "content-schema.sql"), "utf8")).finally(() => c.end());
  n8n = await startN8n({ databaseUrl: tenantDb.url });
  seam.n8nPort = n8n.port;
  const boot = await bootstrapN8n(n8n);
  api = boot.api;
  // btw's WF1–WF3, then three customer workflows, created in that order; two of the customer's
  // are published later (4 of the starter plan's 5 first: 80 %)
  for (const name of ["WF1", "WF2", "WF3", "customer old", "customer mid", "customer new"]) {
    const w = await api.createWorkflow(scheduled(name));
    if (!["customer mid", "customer new"].includes(name)) await api.activateWorkflow(w.id);
    ids.set(name, w.id);
    await new Promise((r) => setTimeout(r, 20)); // distinct creation times
  }

  home = mkdtempSync(join(tmpdir(), "btw-usage-commands-"));
  writeFileSync(join(home, "btw.yml"), "domain: example.com\nnotifications:\n  webhook: {}\n");
  writeFileSync(join(home, "btw.quiet.yml"), "domain: example.com\n");
  createMasterKeyFile(home);
  seam.dockerSocket = join(home, "docker.sock");
  docker = await fakeDockerApi(seam.dockerSocket, tenantDb.url);
  db = await openDb({ url: stateDb.url, dataDir: "unused" });
  await migrate(db);
  // a TEST-NET address: nothing dials it (the SSH seam is replaced)
  const s = await insertServer(db, { name: "lab-a", host: "192.0.2.1", capacity: 100, status: "active" });
  const acme = await insertTenant(db, { slug: "acme", plan: "starter", serverId: s.id, subnet: "10.220.0.0/26", status: "active" });
  await storeSecrets(db, loadMasterKey(home, {}), acme.id, { N8N_API_KEY: boot.apiKey });
  for (const [i, key] of ["wf1", "wf2", "wf3"].entries()) {
    await recordWorkflowDeployment(db, { tenantId: acme.id, workflowKey: key, version: "1", n8nId: ids.get(`WF${i + 1}`)!, checksum: "0".repeat(64) });
  }
}, N8N_START_TIMEOUT_MS);

afterAll(async () => {
  await db?.close();
  await n8n?.stop();
  await hook?.close();
  await new Promise<void>((r) => (docker ? docker.close(() => r()) : r()));
  await Promise.all([tenantDb?.drop(), stateDb?.drop()]);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("usage collect and usage report --enforce, as run by the operator, on a real n8n", () => {
  it("usage collect stores the published workflows n8n counts and notifies 80 % once, recorded in quota_notices", async () => {
    const r = await btw("usage", "collect", "--json");
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await usageRow("workflows.active")).toEqual([4]);
    // and what acme's containers use now (issue 26): the fake engine's working sets summed
    // (40 + 4 + 400 MiB, the inactive file cache left out), 0.1 s of CPU over 2 s of 2 CPUs each
    // and its volumes' bytes from the engine's `system df` (60 + 2 MiB; another tenant's not)
    const samples = (await db.query<{ memory: string; cpu: number; disk: string }>("select memory_bytes::text as memory, cpu_cores as cpu, disk_bytes::text as disk from resource_samples s join tenants t on t.id = s.tenant_id where t.slug = 'acme'")).rows;
    expect(samples).toEqual([{ memory: String(444 * 2 ** 20), cpu: 0.3, disk: String(62 * 2 ** 20) }]);
    expect(dfQueries).toEqual(["volume"]);
    const doc = JSON.parse(r.stdout) as { notices: Array<{ tenant: string; metric: string; level: string; deliveries: Array<{ channel: string; ok: boolean }> }> };
    expect(doc.notices).toEqual([{ tenant: "acme", metric: "workflows.active", level: "80%", deliveries: [{ channel: "webhook", ok: true }] }]);
    expect(sent()).toEqual(["quota.80"]);
    expect(hook.received[0]!.body).toContain("acme");
    expect(await notices()).toEqual([`acme workflows.active 80% 4/5 ${THIS_MONTH}`]);
    // collected again the same month: not told twice
    const again = await btw("usage", "collect", "--json");
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { notices: unknown[] }).notices).toEqual([]);
    expect(sent()).toEqual(["quota.80"]);
  });

  it("usage collect --no-notify stores the month and tells nobody; the next run sends the 100 % notice", async () => {
    for (const name of ["customer mid", "customer new"]) await api.activateWorkflow(ids.get(name)!);
    const quiet = await btw("usage", "collect", "--no-notify");
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(await usageRow("workflows.active")).toEqual([6]);
    expect(sent()).toEqual(["quota.80"]);
    const r = await btw("usage", "collect");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/notified: acme at 100% of workflows\.active/);
    expect(sent()).toEqual(["quota.80", "quota.100"]);
    expect(await notices()).toEqual([`acme workflows.active 80% 4/5 ${THIS_MONTH}`, `acme workflows.active 100% 6/5 ${THIS_MONTH}`]);
  });

  it("a notice no channel took is given back: that collect warns, the next one sends it", async () => {
    hook.respondWith(500);
    const failed = await btw("usage", "collect", "--month", "2025-01");
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stderr).toMatch(/warning: quota notice for acme \(workflows\.active 100%\) not delivered by webhook/);
    expect(failed.stdout).toMatch(/not notified: acme at 100% of workflows\.active/);
    expect(await notices()).not.toContain("acme workflows.active 100% 6/5 2025-01");
    hook.respondWith(200);
    const r = await btw("usage", "collect", "--month", "2025-01");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/notified: acme at 100% of workflows\.active/);
    expect(sent()).toEqual(["quota.80", "quota.100", "quota.100", "quota.100"]);
    expect((await notices()).filter((n) => n.endsWith("2025-01"))).toEqual(["acme workflows.active 100% 6/5 2025-01"]);
  });

  it("two collects at once send a month's notice once", async () => {
    const [a, b] = await Promise.all([btw("usage", "collect", "--month", "2025-02", "--json"), btw("usage", "collect", "--month", "2025-02", "--json")]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    const told = [a, b].flatMap((r) => (JSON.parse(r.stdout) as { notices: Array<{ tenant: string; level: string }> }).notices).map((n) => `${n.tenant} ${n.level}`);
    expect(told).toEqual(["acme 100%"]);
    expect(sent()).toHaveLength(5);
    expect((await notices()).filter((n) => n.endsWith("2025-02"))).toEqual(["acme workflows.active 100% 6/5 2025-02"]);
  });

  it("with no notification channel configured, collect tells nobody and claims nothing", async () => {
    const r = await btw("--config", join(home, "btw.quiet.yml"), "usage", "collect", "--month", "2025-03", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { notices: unknown[] }).notices).toEqual([]);
    expect(sent()).toHaveLength(5);
    expect((await notices()).filter((n) => n.endsWith("2025-03"))).toEqual([]);
  });

  it("usage report --enforce --dry-run names the newest customer workflow and changes nothing", async () => {
    const r = await btw("usage", "report", "--enforce", "--dry-run", "--json");
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { dryRun: boolean; enforce: Array<{ tenant: string; ok: boolean; published: number; quota: number; unpublished: Array<{ name: string }> }> };
    expect(doc.dryRun).toBe(true);
    expect(doc.enforce).toEqual([expect.objectContaining({ tenant: "acme", ok: true, published: 6, quota: 5, unpublished: [{ id: ids.get("customer new"), name: "customer new" }] })]);
    expect(await published()).toEqual(["WF1", "WF2", "WF3", "customer mid", "customer new", "customer old"]);
    expect(await audits("usage.enforce.unpublish")).toEqual([]);
  });

  it("usage report --enforce unpublishes just enough of the newest customer workflows in n8n, keeps WF1–WF3 and deletes nothing; each is audited", async () => {
    const r = await btw("usage", "report", "--enforce");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`acme: 6 published, quota 5; unpublished 'customer new' (${ids.get("customer new")})`);
    expect(seam.forwards.at(-1)).toBe("10.220.0.5:5678");
    expect(await published()).toEqual(["WF1", "WF2", "WF3", "customer mid", "customer old"]);
    // unpublished, not removed
    expect((await api.listWorkflows()).map((w) => w.name).sort()).toEqual(["WF1", "WF2", "WF3", "customer mid", "customer new", "customer old"]);
    expect((await audits("usage.enforce.unpublish")).map((a) => [a.target, a.details.workflow, a.details.workflowId])).toEqual([["acme", "customer new", ids.get("customer new")]]);
    // the journal says what was chosen and that it is done
    expect(await journal()).toEqual([{ status: "done", workflows: [{ id: ids.get("customer new"), name: "customer new" }], quota: 5, published: 6 }]);
  });

  it("a second --enforce finds the tenant at its quota: nothing more unpublished or audited; the next collect counts 5", async () => {
    const r = await btw("usage", "report", "--enforce", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { enforce: Array<{ unpublished: unknown[] }> }).enforce.flatMap((e) => e.unpublished)).toEqual([]);
    expect(await published()).toEqual(["WF1", "WF2", "WF3", "customer mid", "customer old"]);
    expect(await audits("usage.enforce.unpublish")).toHaveLength(1);
    const c = await btw("usage", "collect");
    expect(c.code, c.stderr).toBe(0);
    expect(await usageRow("workflows.active")).toEqual([5]);
  });

  it("a run killed after n8n unpublished and before the state recorded it: the next --enforce records it, once", async () => {
    // what the killed run left: its journal row, running, naming 'customer mid'; n8n had unpublished it
    const acmeId = (await db.query<{ id: number }>("select id::int as id from tenants where slug = 'acme'")).rows[0]!.id;
    await db.query(`insert into operations (tenant_id, kind, step, details) values ($1, 'usage.enforce', 'unpublish', $2::jsonb)`, [
      acmeId,
      JSON.stringify({ quota: 5, published: 6, workflows: [{ id: ids.get("customer mid"), name: "customer mid" }] }),
    ]);
    await api.deactivateWorkflow(ids.get("customer mid")!);
    await btw("usage", "collect", "--no-notify"); // 4 published: under the quota, and still visited
    expect(await usageRow("workflows.active")).toEqual([4]);
    const r = await btw("usage", "report", "--enforce", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { enforce: Array<{ tenant: string; unpublished: unknown[]; resumed?: unknown[] }> }).enforce).toEqual([
      expect.objectContaining({ tenant: "acme", unpublished: [], resumed: [{ id: ids.get("customer mid"), name: "customer mid" }] }),
    ]);
    expect((await audits("usage.enforce.unpublish")).map((a) => a.details.workflow)).toEqual(["customer new", "customer mid"]);
    expect((await journal()).map((j) => j.status)).toEqual(["done", "done"]);
    expect(await published()).toEqual(["WF1", "WF2", "WF3", "customer old"]);
    // and again: nothing left to record
    const again = await btw("usage", "report", "--enforce", "--json");
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { enforce: unknown[] }).enforce).toEqual([]);
    expect(await audits("usage.enforce.unpublish")).toHaveLength(2);
  });
});
