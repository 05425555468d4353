// issue 22 item 1: `tenant migrate --cleanup` after a `--rollback` that failed past its switch
// removed the stack the tenant ran on. Here the real migrate/rollback/cleanup/purge flows run
// against the real PostgreSQL state (journal, tenant rows, locks, transactions); the servers
// are stand-ins at the flows' remote boundary (an SSH session, the proxy, the backup, n8n's
// readiness) that record every command and fail on cue. No SSH, no Docker: the lab e2e proves
// what the commands do on real servers.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Ctx } from "../../../src/cli/context.js";
import { composeDown } from "../../../src/core/commands/compose.js";
import { tenantLayout } from "../../../src/core/tenant/layout.js";
import { deleteTenant } from "../../../src/ops/tenant/lifecycle.js";
import { cleanupMigration, removeKeptSource } from "../../../src/ops/tenant/migrate/cleanup.js";
import { currentMigration, MIGRATE_KIND, migrationStateOf } from "../../../src/ops/tenant/migrate/journal.js";
import { preflightMigrate } from "../../../src/ops/tenant/migrate/preflight.js";
import { rollbackMigration } from "../../../src/ops/tenant/migrate/rollback.js";
import { migrateTenant } from "../../../src/ops/tenant/migrate/run.js";
import { storeSecrets } from "../../../src/ops/tenant-secrets.js";
import type { BackupStorage } from "../../../src/remote/backup-storage.js";
import { listAudit } from "../../../src/state/audit.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { finishStep, listOperations, startStep } from "../../../src/state/operations.js";
import { insertServer, updateServerFacts } from "../../../src/state/servers.js";
import { assignTenantServer, getTenant, insertTenant } from "../../../src/state/tenants.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

const remote = vi.hoisted(() => {
  interface Call {
    server: string;
    what: string;
    argv?: string[];
  }
  const state = {
    calls: [] as Call[],
    /** servers an SSH session was opened to */
    sessions: [] as string[],
    /** the error a server gives for a command, or null */
    fail: (_server: string, _what: string): string | null => null,
  };
  const record = (server: string, what: string, argv?: readonly string[]) => {
    state.calls.push({ server, what, ...(argv ? { argv: [...argv] } : {}) });
    const error = state.fail(server, what);
    if (error) throw new Error(error);
  };
  const host = (name: string) => ({
    name,
    ssh: { connect: async () => {} },
    run: async (argv: readonly string[]) => {
      record(name, "run", argv);
      return { stdout: "", stderr: "", exitCode: 0 };
    },
    mkdir: async (path: string) => record(name, "mkdir", [path]),
    writeFile: async (path: string) => record(name, "writeFile", [path]),
    removeTree: async (path: string) => record(name, "removeTree", [path]),
  });
  return { state, record, host };
});

vi.mock("../../../src/ops/backup/tenant.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/backup/tenant.js")>()),
  openServerSession: async (_ctx: unknown, server: { name: string }) => {
    remote.state.sessions.push(server.name);
    return { server, host: remote.host(server.name), docker: {} };
  },
  backupTenant: async (_ctx: unknown, _db: unknown, _storage: unknown, session: { server: { name: string } }) => {
    remote.record(session.server.name, "backup");
    return { id: `bk-${session.server.name}`, tenant: "", server: session.server.name, location: "", sizeBytes: 0, sha256: "", seconds: 0, counts: {}, n8nVersion: null };
  },
}));
vi.mock("../../../src/ops/proxy.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/proxy.js")>()),
  ensureProxy: async (host: { name: string }) => remote.record(host.name, "ensureProxy"),
  connectTenant: async (host: { name: string }) => remote.record(host.name, "connectTenant"),
  disconnectTenant: async (host: { name: string }) => remote.record(host.name, "disconnectTenant"),
  syncRoutes: async (host: { name: string }) => remote.record(host.name, "syncRoutes"),
}));
vi.mock("../../../src/ops/backup/restore-data.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/backup/restore-data.js")>()),
  checkN8n: async (host: { name: string }) => {
    remote.record(host.name, "checkN8n");
    return { workflows: 0 };
  },
}));
vi.mock("../../../src/ops/tenant-context.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/tenant-context.js")>()),
  hostFor: async (_ctx: unknown, server: { name: string }) => {
    remote.state.sessions.push(server.name);
    return remote.host(server.name);
  },
}));

const storage = {} as BackupStorage;
const step = () => {};
const A = "lab-a";
const B = "lab-b";
/** what a dropped link does to a command on lab-b */
const linkDown = (server: string, what: string) => (server === B && what === "removeTree" ? "ssh: connect to host lab-b port 22: Connection timed out" : null);

let tdb: TestDatabase;
let home: string;
let ctx: Ctx;
let db: Db;
const ids = { a: 0, b: 0 };

/** Was the stack on `server` removed, or any of it (compose down, volumes, files)? */
const destructive = (server: string) =>
  remote.state.calls.filter((c) => c.server === server && (c.what === "removeTree" || c.argv?.includes("down") || c.argv?.includes("volume") || c.argv?.includes("rm")));

async function journal(slug: string) {
  const t = (await getTenant(db, slug))!;
  return listOperations(db, { tenantId: t.id, kind: MIGRATE_KIND });
}

/** A tenant on lab-b after a done migration from lab-a (its stack kept there), as `tenant migrate` leaves it. */
async function migratedTenant(slug: string, subnets: { a: string; b: string }): Promise<number> {
  const t = await insertTenant(db, { slug, plan: "pro", serverId: ids.a, subnet: subnets.a, status: "active" });
  await storeSecrets(db, await ctx.master(), t.id, { POSTGRES_PASSWORD: "pg-secret-0123456789abcdef", REDIS_PASSWORD: "redis-secret-0123456789abcd", N8N_ENCRYPTION_KEY: "enc-key-0123456789abcdefghijklmn" });
  const details = { from: A, fromServerId: ids.a, to: B, toServerId: ids.b, subnet: subnets.b, fromSubnet: subnets.a, priorStatus: "active", phase: "restored", backup: "bk-fresh", finalBackup: "bk-final" };
  const op = await startStep(db, { kind: MIGRATE_KIND, step: "migrate", tenantId: t.id, serverId: ids.b, details });
  await assignTenantServer(db, t.id, ids.b, subnets.b);
  await finishStep(db, op.id, { phase: "switched" });
  return t.id;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  const setup = await openDb({ url: tdb.url, dataDir: "unused" });
  await migrate(setup);
  await setup.close();
  home = mkdtempSync(join(tmpdir(), "btw-migrate-rollback-"));
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
  ctx = new Ctx(io, { json: false, verbose: false, color: false, nonInteractive: true }, "btw tenant migrate");
  await ctx.prepare();
  db = await ctx.db();
  // TEST-NET addresses: nothing would answer, and nothing here dials them
  ids.a = (await insertServer(db, { name: A, host: "192.0.2.1", capacity: 12, status: "active" })).id;
  ids.b = (await insertServer(db, { name: B, host: "192.0.2.2", capacity: 12, status: "active" })).id;
  // as a check that found their tenant isolation rules in force records it (placement and migrate's preflight read it)
  for (const id of [ids.a, ids.b]) await updateServerFacts(db, id, { isolation: "in-place" });
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  await tdb?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

beforeEach(() => {
  remote.state.calls = [];
  remote.state.sessions = [];
  remote.state.fail = () => null;
});

describe("a rollback that fails after it moved the tenant back (the link to the target drops while its stack is removed)", () => {
  const slug = "acme";

  beforeAll(async () => {
    await migratedTenant(slug, { a: "10.220.0.0/26", b: "10.220.0.0/26" });
  });

  it("fails, with the tenant on its source, active, and a journal that says the switch happened", async () => {
    remote.state.fail = linkDown;
    const err = (await rollbackMigration(ctx, db, storage, slug, step).catch((e: unknown) => e)) as { code: string; hint?: string };
    expect(err).toMatchObject({ code: "rollback-failed" });
    expect(err.hint).toContain("acme runs on lab-a again; `btw tenant migrate acme --rollback --yes` finishes it");
    const t = (await getTenant(db, slug))!;
    expect({ server: t.serverId, status: t.status }).toEqual({ server: ids.a, status: "active" });
    const rollback = (await journal(slug)).at(-1)!;
    expect(rollback).toMatchObject({ step: "rollback", status: "failed", details: { rollbackPhase: "switched", safetyBackup: "bk-lab-b" } });
  });

  it("--cleanup refuses and touches nothing: lab-a is where the tenant runs", async () => {
    const before = await journal(slug);
    const err = (await cleanupMigration(ctx, db, slug, step).catch((e: unknown) => e)) as { code: string; message: string; hint?: string };
    expect(err).toMatchObject({ code: "rollback-unfinished" });
    expect(err.message).toMatch(/acme runs on lab-a again \(nothing was removed\)/);
    expect(err.hint).toContain("`btw tenant migrate acme --rollback --yes` finishes it");
    expect(remote.state.sessions).toEqual([]);
    expect(remote.state.calls).toEqual([]);
    expect(await journal(slug)).toEqual(before);
  });

  it("the purge's removal of a kept source refuses the server the tenant runs on", async () => {
    await expect(removeKeptSource(ctx, db, slug, ids.a)).rejects.toMatchObject({ code: "stack-is-live" });
    expect(remote.state.calls).toEqual([]);
  });

  it("delete --purge refuses before its final backup, touching nothing", async () => {
    await expect(deleteTenant(ctx, db, slug, { purge: true })).rejects.toMatchObject({ code: "rollback-unfinished" });
    expect(remote.state.sessions).toEqual([]);
    expect(remote.state.calls).toEqual([]);
    expect((await getTenant(db, slug))!.status).toBe("active");
  });

  it("the preflight of the next move points at --rollback, not at --cleanup", async () => {
    const pre = await preflightMigrate(ctx, db, slug, B);
    expect(pre.problems).toHaveLength(1);
    expect(pre.problems[0]).toMatch(/the rollback of acme's migration to lab-b did not finish .* `btw tenant migrate acme --rollback --yes` finishes it first/);
    expect(pre.problems[0]).not.toMatch(/--cleanup/);
  });

  it("--rollback again finishes it: routes, then the stack left on lab-b removed; lab-a's stack is left alone", async () => {
    const failed = (await journal(slug)).at(-1)!;
    const r = await rollbackMigration(ctx, db, storage, slug, step);
    expect(r).toMatchObject({ tenant: slug, from: B, to: A, backup: "bk-lab-b" });
    expect(remote.state.calls).toContainEqual({ server: B, what: "run", argv: composeDown(slug, { volumes: true }) });
    expect(remote.state.calls).toContainEqual({ server: B, what: "removeTree", argv: [tenantLayout(slug).dir] });
    expect(destructive(A)).toEqual([]);
    expect(remote.state.calls.filter((c) => c.server === A).map((c) => c.what)).toEqual(["run", "checkN8n", "connectTenant", "syncRoutes"]);
    const t = (await getTenant(db, slug))!;
    expect({ server: t.serverId, status: t.status }).toEqual({ server: ids.a, status: "active" });
    const last = (await journal(slug)).at(-1)!;
    expect(last).toMatchObject({ step: "rollback", status: "done", details: { rollbackPhase: "switched", resumes: failed.id, safetyBackup: "bk-lab-b" } });
    expect(await currentMigration(db, t.id)).toBeNull();
    expect((await migrationStateOf(db, t)).kind).toBe("none");
    const [audit] = await listAudit(db, { action: "tenant.migrate.rollback", limit: 1 });
    expect(audit).toMatchObject({ target: slug, details: { from: B, to: A, resumed: failed.id } });
  });

  it("after it, nothing is left to clean up and the next move has no problem", async () => {
    await expect(cleanupMigration(ctx, db, slug, step)).rejects.toMatchObject({ code: "no-migration" });
    expect(remote.state.calls).toEqual([]);
    expect((await preflightMigrate(ctx, db, slug, B)).problems).toEqual([]);
  });
});

describe("a rollback killed after its switch (its journal row never finished)", () => {
  const slug = "bolt";

  it("the re-run closes the killed row and finishes the rollback", async () => {
    await migratedTenant(slug, { a: "10.220.0.64/26", b: "10.220.0.64/26" });
    remote.state.fail = linkDown;
    await expect(rollbackMigration(ctx, db, storage, slug, step)).rejects.toMatchObject({ code: "rollback-failed" });
    // what a kill -9 at that moment leaves: the row as it was before the catch closed it
    const killed = (await journal(slug)).at(-1)!;
    await db.query(`update operations set status = 'running', error = null, finished_at = null where id = $1`, [killed.id]);
    await expect(cleanupMigration(ctx, db, slug, step)).rejects.toMatchObject({ code: "rollback-unfinished" });

    remote.state.fail = () => null;
    remote.state.calls = [];
    await rollbackMigration(ctx, db, storage, slug, step);
    expect(destructive(A)).toEqual([]);
    expect(remote.state.calls).toContainEqual({ server: B, what: "removeTree", argv: [tenantLayout(slug).dir] });
    const rows = await journal(slug);
    expect(rows.find((o) => o.id === killed.id)).toMatchObject({ status: "failed", error: "interrupted after the switch; finished by a re-run" });
    expect(rows.at(-1)).toMatchObject({ step: "rollback", status: "done", details: { resumes: killed.id } });
  });
});

describe("a rollback of older btw that failed after its switch (its row has no phase)", () => {
  const slug = "cove";

  it("is read from the tenant's row: cleanup refuses, --rollback finishes it", async () => {
    const id = await migratedTenant(slug, { a: "10.220.0.128/26", b: "10.220.0.128/26" });
    // as older btw left it: the tenant moved back to lab-a, the rollback row failed, no phase
    const m = (await journal(slug)).at(-1)!;
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "rollback", tenantId: id, serverId: ids.a, details: m.details });
    await assignTenantServer(db, id, ids.a, "10.220.0.128/26");
    await db.query(`update operations set status = 'failed', error = 'ssh: connect to host lab-b port 22: Connection timed out', finished_at = now() where id = $1`, [op.id]);

    await expect(cleanupMigration(ctx, db, slug, step)).rejects.toMatchObject({ code: "rollback-unfinished" });
    expect(remote.state.calls).toEqual([]);
    const r = await rollbackMigration(ctx, db, storage, slug, step);
    expect(r).toMatchObject({ from: B, to: A, backup: null });
    expect(destructive(A)).toEqual([]);
    expect(remote.state.calls).toContainEqual({ server: B, what: "removeTree", argv: [tenantLayout(slug).dir] });
    expect((await migrationStateOf(db, (await getTenant(db, slug))!)).kind).toBe("none");
  });
});

describe("a migration that failed after its switch (the source unreachable when its stack is taken down)", () => {
  const slug = "failed-after-switch";

  beforeAll(async () => {
    const t = await insertTenant(db, { slug, plan: "pro", serverId: ids.a, subnet: "10.220.3.0/26", status: "migrating" });
    await storeSecrets(db, await ctx.master(), t.id, { POSTGRES_PASSWORD: "pg-secret-0123456789abcdef", REDIS_PASSWORD: "redis-secret-0123456789abcd", N8N_ENCRYPTION_KEY: "enc-key-0123456789abcdefghijklmn" });
    // restored on lab-b, not yet switched: the run below switches, then fails on lab-a
    const details = { from: A, fromServerId: ids.a, to: B, toServerId: ids.b, subnet: "10.220.3.0/26", fromSubnet: "10.220.3.0/26", priorStatus: "active", phase: "restored", backup: "bk-fresh", finalBackup: "bk-final" };
    await startStep(db, { kind: MIGRATE_KIND, step: "migrate", tenantId: t.id, serverId: ids.b, details });
  });

  it("fails with the tenant on lab-b, its journal row failed at 'switched'", async () => {
    remote.state.fail = (server, what) => (server === A && what === "run" ? "ssh: connect to host lab-a port 22: Connection timed out" : null);
    const err = (await migrateTenant(ctx, db, storage, slug, B, step).catch((e: unknown) => e)) as { code: string; hint?: string };
    expect(err).toMatchObject({ code: "migrate-failed" });
    expect(err.hint).toContain(`re-run \`btw tenant migrate ${slug} --to ${B}\` to finish`);
    expect((await getTenant(db, slug))!.serverId).toBe(ids.b);
    expect((await journal(slug)).at(-1)).toMatchObject({ step: "migrate", status: "failed", details: { phase: "switched" } });
  });

  it("the re-run the hint names finishes it: the source stack taken down, a new journal row done, the failed one kept", async () => {
    const err = await migrateTenant(ctx, db, storage, slug, B, step).then(() => null, (e: unknown) => e);
    expect(err).toBeNull();
    expect(remote.state.calls).toContainEqual({ server: A, what: "run", argv: composeDown(slug, { volumes: false }) });
    const rows = await journal(slug);
    expect(rows.map((r) => [r.step, r.status])).toEqual([["migrate", "failed"], ["migrate", "done"]]);
    expect(rows[1]!.details).toMatchObject({ phase: "switched", resumedFrom: rows[0]!.id });
    const t = (await getTenant(db, slug))!;
    expect({ server: t.serverId, status: t.status }).toEqual({ server: ids.b, status: "active" });
    expect((await migrationStateOf(db, t)).kind).not.toBe("unfinished");
  });
});
