// issue 22 item 12: a tenant stuck behind the maintenance page read healthy. After a restore,
// migration or upgrade was killed and nobody resumed it, `btw status` exited 0 (reproduced on
// the lab: a restore killed under way, the tenant `restoring` at 503, status 0). Here the real
// `status` command runs against the real PostgreSQL state (tenant rows, the operations
// journal); its server's Docker engine is a FAKE Docker API on a unix socket that lists the
// tenant's containers as healthy, reached through a stand-in for the SSH forward — the one
// seam replaced. Nothing dials a real server.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Ctx } from "../../../src/cli/context.js";
import { JOURNAL_KINDS } from "../../../src/core/tenant/unfinished.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { failStep, finishStep, startStep } from "../../../src/state/operations.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenant, updateTenantStatus, type TenantRow } from "../../../src/state/tenants.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { savedFilterTable } from "../../support/isolation.js";

const seam = vi.hoisted(() => ({ dockerSocket: "" }));

// the SSH boundary: a client whose forwarded Docker socket is the fake engine's
vi.mock("../../../src/ops/server/context.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/server/context.js")>()),
  sshFor: async (_ctx: unknown, s: { name: string }) => ({
    name: s.name,
    connect: async () => {},
    forwardUnixSocket: async () => ({ localPath: seam.dockerSocket, close: async () => {} }),
    // `iptables-save`: the server's tenant isolation rules in force (lab-a alone, the config's defaults)
    run: async () => ({ stdout: savedFilterTable({ tenantSources: ["10.220.0.0/16"], privateRanges: ["10.0.0.0/16"], otherServers: [] }), stderr: "", exitCode: 0 }),
  }),
}));

/** FAKE Docker Engine API: `GET /containers/json` lists acme's three containers, running and healthy. */
function fakeDockerApi(socketPath: string): Promise<Server> {
  const containers = ["n8n", "postgres", "redis"].map((service) => ({
    Id: `id-${service}`,
    Names: [`/btw-acme-${service}`],
    Image: service,
    ImageID: `sha256:${service}`,
    Labels: { "btw.tenant": "acme", "btw.service": service },
    State: "running",
    Status: "Up 2 hours (healthy)",
  }));
  const server = createServer((req, res) => {
    if (req.method === "GET" && /^(\/v[\d.]+)?\/containers\/json/.test(req.url ?? "")) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(containers));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "not in this fake" }));
  });
  return new Promise((r) => server.listen(socketPath, () => r(server)));
}

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

interface StatusDoc {
  healthy: boolean;
  tenants: Array<{ tenant: string; status: string; health: string; unfinished: null | { operation: string; finish: string | null; undo: string | null; journal: { kind: string; step: string; status: string } | null } }>;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openDb({ url: tdb.url, dataDir: "unused" });
  await migrate(db);
  home = mkdtempSync(join(tmpdir(), "btw-status-unfinished-"));
  writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
  seam.dockerSocket = join(home, "docker.sock");
  docker = await fakeDockerApi(seam.dockerSocket);
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
