// issue 22 item 7: `btw restore <name>` took "the latest backup" by name. A purged customer's
// backups are kept `purgedDays`, so a new customer of the same name with no backup yet got the
// old customer's workflows, credentials and encryption key. Here the real planner and the real
// restore flows run against the real PostgreSQL state (tenant rows, backups, journal, audit,
// locks); the servers, the backup objects and n8n are stand-ins at the flows' remote boundary.
// No SSH, no Docker: the lab e2e proves what a restore does on real servers.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Ctx } from "../../../src/cli/context.js";
import { executeRestore } from "../../../src/ops/tenant/restore/execute.js";
import { planRestore, type RestoreRequest } from "../../../src/ops/tenant/restore/plan.js";
import { storeSecrets } from "../../../src/ops/tenant-secrets.js";
import type { BackupStorage } from "../../../src/remote/backup-storage.js";
import { listAudit } from "../../../src/state/audit.js";
import { completeBackup, insertBackup, type BackupReason } from "../../../src/state/backups.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer, updateServerFacts } from "../../../src/state/servers.js";
import { deleteTenantSecrets } from "../../../src/state/tenant-secrets.js";
import { getTenant, insertTenant, updateTenantStatus, type TenantRow } from "../../../src/state/tenants.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

const remote = vi.hoisted(() => {
  const state = {
    /** backups whose data was put into a stack, in order */
    restored: [] as string[],
    /** the error the next data restore fails with, or null */
    failRestore: null as string | null,
  };
  const host = (name: string) => ({
    name,
    ssh: { connect: async () => {} },
    run: async () => ({ stdout: "", stderr: "", exitCode: 0 }),
    mkdir: async () => {},
    writeFile: async () => {},
    removeTree: async () => {},
  });
  const manifest = (id: string, tenant: string) => ({
    id,
    tenant,
    counts: { workflows: null, credentials: null, executions: null },
    escrow: { keyId: "k", sealed: "s", names: [] },
  });
  return { state, host, manifest };
});

vi.mock("../../../src/ops/backup/tenant.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/backup/tenant.js")>()),
  openServerSession: async (_ctx: unknown, server: { name: string }) => ({ server, host: remote.host(server.name), docker: {} }),
  backupTenant: async (_ctx: unknown, _db: unknown, _storage: unknown, _session: unknown, tenant: { slug: string }) => ({ id: `${tenant.slug}-safety` }),
}));
vi.mock("../../../src/ops/proxy.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/proxy.js")>()),
  ensureProxy: async () => {},
  connectTenant: async () => {},
  syncRoutes: async () => {},
}));
vi.mock("../../../src/ops/stack-ownership.js", () => ({ assertStackOwned: async () => ({}) }));
vi.mock("../../../src/ops/tenant/secrets-rotate.js", () => ({ repointRestoredCredential: async () => false }));
vi.mock("../../../src/ops/backup/restore-data.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/backup/restore-data.js")>()),
  checkBackup: async (_storage: unknown, key: string, _master: unknown, id: string) => remote.manifest(id, key.split("/")[0]!),
  openEscrow: () =>
    new Map([
      ["N8N_ENCRYPTION_KEY", "escrowed-enc-key-0123456789abcdef"],
      ["POSTGRES_PASSWORD", "escrowed-pg-0123456789abcdef"],
      ["REDIS_PASSWORD", "escrowed-redis-0123456789abcdef"],
    ]),
  restoreData: async (o: { backupId: string; key: string }) => {
    const error = remote.state.failRestore;
    remote.state.failRestore = null;
    if (error) throw new Error(error);
    remote.state.restored.push(o.backupId);
    return remote.manifest(o.backupId, o.key.split("/")[0]!);
  },
  checkN8n: async () => ({ workflows: 0 }),
  liveCounts: async () => ({ workflows: 0, credentials: 0, executions: 0 }),
}));

// a backup's location is "<slug>/<id>", its storage key the same
const storage = { root: "/backups", keyOf: (location: string) => location } as unknown as BackupStorage;
const step = () => {};

let tdb: TestDatabase;
let home: string;
let ctx: Ctx;
let db: Db;
let serverId = 0;
let subnets = 0;

async function tenant(slug: string, status: TenantRow["status"] = "active"): Promise<TenantRow> {
  const t = await insertTenant(db, { slug, plan: "starter", serverId, subnet: `10.230.${subnets++}.0/26`, status });
  await storeSecrets(db, await ctx.master(), t.id, { POSTGRES_PASSWORD: "pg-secret-0123456789abcdef", REDIS_PASSWORD: "redis-secret-0123456789abcd", N8N_ENCRYPTION_KEY: "enc-key-0123456789abcdefghijklmn" });
  return t;
}

/** A completed backup of `t`, `day` days into March 2026 (times decide "newest"). */
async function backupOf(t: TenantRow, id: string, day: number, reason: BackupReason = "manual"): Promise<string> {
  await insertBackup(db, { id, tenantId: t.id, tenantSlug: t.slug, location: `${t.slug}/${id}`, reason, manifest: { plan: "starter" } });
  await completeBackup(db, id, { sizeBytes: 1, sha256: "0".repeat(64) });
  await db.query(`update backups set created_at = $2 where id = $1`, [id, new Date(Date.UTC(2026, 2, day, 3))]);
  return id;
}

/** As `tenant delete --purge` leaves a tenant: its secrets gone, the row kept as history. */
async function purge(t: TenantRow): Promise<void> {
  await deleteTenantSecrets(db, t.id);
  await updateTenantStatus(db, t.id, "deleted");
}

const plan = (req: RestoreRequest) => planRestore(ctx, db, storage, req);
const restore = async (req: RestoreRequest) => executeRestore(ctx, db, storage, await plan(req), step);
const refusal = (req: RestoreRequest) => plan(req).then(
  (p) => ({ planned: p.backup?.id }),
  (e: { code: string; exitCode: number; message: string }) => ({ code: e.code, exitCode: e.exitCode, message: e.message }),
);
const restoreAudit = async (slug: string) => (await listAudit(db, { target: slug, action: "tenant.restore" })).map((a) => a.details);

beforeAll(async () => {
  tdb = await createTestDatabase();
  const setup = await openDb({ url: tdb.url, dataDir: "unused" });
  await migrate(setup);
  await setup.close();
  home = mkdtempSync(join(tmpdir(), "btw-restore-choice-"));
  writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
  const io = {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: { BTW_HOME: home, BTW_DATABASE_URL: tdb.url, BTW_MASTER_KEY: randomBytes(32).toString("hex") },
    cwd: home,
    stdinIsTTY: false,
    stderrIsTTY: false,
  };
  ctx = new Ctx(io, { json: false, verbose: false, color: false, nonInteractive: true }, "btw restore");
  await ctx.prepare();
  db = await ctx.db();
  // a TEST-NET address: nothing would answer, and nothing here dials it
  serverId = (await insertServer(db, { name: "lab-a", host: "192.0.2.1", capacity: 100, status: "active" })).id;
  await updateServerFacts(db, serverId, { isolation: "in-place" }); // a check found its tenant isolation in force
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  await tdb?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

beforeEach(() => {
  remote.state.restored = [];
  remote.state.failRestore = null;
});

describe("a purged customer's name taken by a new customer who has no backup yet", () => {
  const A = "acme";
  let old: TenantRow;
  let fresh: TenantRow;
  let oldBackup = "";

  beforeAll(async () => {
    old = await tenant(A);
    await backupOf(old, "acme-old-1", 1);
    oldBackup = await backupOf(old, "acme-old-final", 2, "final");
    await purge(old);
    fresh = await tenant(A);
  });

  it("the two are different tenant rows", () => {
    expect(fresh.id).not.toBe(old.id);
  });

  it("`restore acme --yes` refuses (exit 2), naming --backup and `btw backup list --tenant acme`, and changes nothing", async () => {
    expect(await refusal({ source: A })).toEqual({
      code: "no-own-backup",
      exitCode: 2,
      message: `tenant acme (id ${fresh.id}) has no completed backup of its own; the newest named acme, acme-old-final, is of another tenant of that name (id ${old.id}): name the one to restore with --backup <id> (\`btw backup list --tenant acme\`)`,
    });
    expect(await getTenant(db, A)).toMatchObject({ id: fresh.id, status: "active" });
    expect(await restoreAudit(A)).toEqual([]);
  });

  it("`restore acme --as other` chooses by the source tenant's id too: refused", async () => {
    expect(await refusal({ source: A, as: "acme-copy" })).toMatchObject({ code: "no-own-backup", exitCode: 2 });
  });

  it("`--backup <the old one's>` crosses ids on purpose: restored in place, and the audit row says it crossed from the old id to the new", async () => {
    const r = await restore({ source: A, backupId: oldBackup });
    expect(r).toMatchObject({ tenant: A, mode: "in-place", backup: oldBackup, status: "active" });
    expect(remote.state.restored).toEqual([oldBackup]);
    expect(await restoreAudit(A)).toEqual([expect.objectContaining({ backup: oldBackup, mode: "in-place", crossed: { from: old.id, to: fresh.id } })]);
  });

  it("once the new customer has a backup of its own, a plain restore takes it, whatever is newer under the name", async () => {
    const own = await backupOf(fresh, "acme-new-1", 1);
    expect(await refusal({ source: A })).toEqual({ planned: own });
    const r = await restore({ source: A });
    expect(r).toMatchObject({ mode: "in-place", backup: own });
    const audit = await restoreAudit(A);
    expect(audit.at(-1)).toMatchObject({ backup: own });
    expect(audit.at(-1)).not.toHaveProperty("crossed");
  });
});

describe("a purged name nobody took since: restored from the purged tenant's newest backup, as before", () => {
  const G = "gamma";
  let old: TenantRow;

  beforeAll(async () => {
    old = await tenant(G);
    await backupOf(old, "gamma-1", 1);
    await backupOf(old, "gamma-final", 3, "final");
    await backupOf(old, "gamma-safety", 4, "pre-restore");
    await purge(old);
  });

  it("a restore onto the name that fails leaves the new row failed; the same `restore gamma` again finishes it with the same backup", async () => {
    const p = await plan({ source: G });
    expect({ mode: p.mode, backup: p.backup?.id, existing: p.existing }).toEqual({ mode: "recreate", backup: "gamma-final", existing: null });
    remote.state.failRestore = "the server went away";
    await expect(executeRestore(ctx, db, storage, p, step)).rejects.toMatchObject({ code: "restore-failed" });
    const failed = (await getTenant(db, G))!;
    expect(failed).toMatchObject({ status: "failed" });
    expect(failed.id).not.toBe(old.id);

    const again = await plan({ source: G });
    expect({ mode: again.mode, backup: again.backup?.id, existing: again.existing?.id }).toEqual({ mode: "recreate", backup: "gamma-final", existing: failed.id });
    const r = await executeRestore(ctx, db, storage, again, step);
    expect(r).toMatchObject({ tenant: G, mode: "recreate", backup: "gamma-final", status: "active" });
    expect(remote.state.restored).toEqual(["gamma-final"]);
    const audit = await restoreAudit(G);
    expect(audit).toEqual([expect.objectContaining({ backup: "gamma-final", mode: "recreate" })]);
    expect(audit[0]).not.toHaveProperty("crossed");
  });
});

describe("a purged name whose newer tenant was purged too, or failed to create", () => {
  let first: TenantRow;
  let firstBackup = "";

  beforeAll(async () => {
    first = await tenant("delta");
    firstBackup = await backupOf(first, "delta-final", 1, "final");
    await purge(first);
    await purge(await tenant("delta")); // purged with --no-final-backup: no backup of its own
  });

  it("`restore delta` refuses: the name last meant the second tenant, which left no backup", async () => {
    expect(await refusal({ source: "delta" })).toMatchObject({ code: "no-own-backup", exitCode: 2 });
  });

  it("`restore delta --backup <the first's>` re-creates it, and the audit row says it crossed to the new row", async () => {
    const r = await restore({ source: "delta", backupId: firstBackup });
    expect(r).toMatchObject({ mode: "recreate", backup: firstBackup, status: "active" });
    const now = (await getTenant(db, "delta"))!;
    expect(await restoreAudit("delta")).toEqual([expect.objectContaining({ backup: firstBackup, crossed: { from: first.id, to: now.id } })]);
  });

  it("a `tenant create` that failed over a purged name: a plain restore onto that row refuses; with --backup it is allowed", async () => {
    const e = await tenant("epsilon");
    const eb = await backupOf(e, "epsilon-final", 1, "final");
    await purge(e);
    const failed = await tenant("epsilon", "failed");
    expect(await refusal({ source: "epsilon" })).toMatchObject({ code: "no-own-backup", exitCode: 2 });
    const p = await plan({ source: "epsilon", backupId: eb });
    expect({ mode: p.mode, backup: p.backup?.id, existing: p.existing?.id }).toEqual({ mode: "recreate", backup: eb, existing: failed.id });
  });
});
