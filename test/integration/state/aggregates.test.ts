import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../../src/errors.js";
import type { Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { appendAudit, listAudit, osUser } from "../../../src/state/audit.js";
import {
  completeBackup,
  failBackup,
  getBackup,
  insertBackup,
  listBackups,
  markBackupDeleted,
  markBackupVerified,
} from "../../../src/state/backups.js";
import { completedSteps, failStep, finishStep, listOperations, startStep } from "../../../src/state/operations.js";
import {
  getServer,
  getServerByName,
  insertServer,
  listServers,
  removeServer,
  updateServerFacts,
  updateServerLabels,
  updateServerStatus,
} from "../../../src/state/servers.js";
import {
  deleteTenantSecrets,
  getTenantSecret,
  listTenantSecretNames,
  listTenantSecrets,
  putTenantSecret,
  putTenantSecrets,
} from "../../../src/state/tenant-secrets.js";
import {
  assignTenantServer,
  countTenants,
  getTenant,
  getTenantById,
  insertTenant,
  listTenants,
  setTenantPlan,
  updateTenantStatus,
  usedSubnets,
} from "../../../src/state/tenants.js";
import {
  currentWorkflowDeployments,
  listWorkflowDeployments,
  recordWorkflowDeployment,
  setWorkflowDeploymentStatus,
} from "../../../src/state/workflow-deployments.js";
import { DRIVERS, driverFixture, type DriverFixture, type DriverName } from "./drivers.js";

const SHA = "a".repeat(64);

/** Every row of every table, dates replaced by a marker: what must match across drivers. */
async function dump(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, order] of [
    ["servers", "id"],
    ["tenants", "id"],
    ["tenant_secrets", "tenant_id, name"],
    ["operations", "id"],
    ["backups", "id"],
    ["workflow_deployments", "id"],
    ["audit_log", "id"],
  ] as const) {
    const r = await db.query(`select * from ${table} order by ${order}`);
    out[table] = r.rows.map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? "<date>" : Buffer.isBuffer(v) ? v.toString("hex") : v])),
    );
  }
  return out;
}

const dumps = new Map<DriverName, Record<string, unknown[]>>();

describe.each(DRIVERS)("state aggregates on %s", (driver) => {
  let fx: DriverFixture;
  let db: Db;
  /** tenant ids by slug (failed inserts use up identity values, so they are not 1, 2, 3) */
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    fx = await driverFixture(driver);
    db = await fx.open();
    await migrate(db);
  });
  afterAll(async () => {
    if (db) dumps.set(driver, await dump(db));
    await fx?.dispose();
  });

  describe("servers", () => {
    it("insert fills defaults and returns a camelCase row", async () => {
      const s = await insertServer(db, { name: "fsn1-1", host: "10.0.0.1", capacity: 20 });
      expect(s).toMatchObject({
        id: 1,
        name: "fsn1-1",
        host: "10.0.0.1",
        port: 22,
        sshUser: "root",
        sshKeyPath: null,
        capacity: 20,
        labels: {},
        status: "new",
        facts: null,
        checkedAt: null,
        providerId: null,
      });
      expect(s.createdAt).toBeInstanceOf(Date);
      expect(s.updatedAt).toEqual(s.createdAt);
    });

    it("insert takes every field", async () => {
      const s = await insertServer(db, {
        name: "fsn1-2",
        host: "fsn1-2.example.net",
        port: 2222,
        sshUser: "btw",
        sshKeyPath: "/home/op/.ssh/id_ed25519",
        capacity: 10,
        labels: { region: "fsn1" },
        status: "active",
        providerId: "hcloud:4711",
      });
      expect(s).toMatchObject({ id: 2, port: 2222, sshUser: "btw", labels: { region: "fsn1" }, status: "active", providerId: "hcloud:4711" });
    });

    it("a duplicate name or provider id is a ConflictError", async () => {
      await expect(insertServer(db, { name: "fsn1-1", host: "x", capacity: 1 })).rejects.toMatchObject({
        constructor: ConflictError,
        code: "server-exists",
        message: "server 'fsn1-1' already exists",
      });
      await expect(insertServer(db, { name: "other", host: "x", capacity: 1, providerId: "hcloud:4711" })).rejects.toBeInstanceOf(ConflictError);
    });

    it("the schema rejects nonsense (bad port, negative capacity, unknown status)", async () => {
      await expect(insertServer(db, { name: "bad", host: "x", capacity: 1, port: 70000 })).rejects.toMatchObject({ code: "23514" });
      await expect(insertServer(db, { name: "bad", host: "x", capacity: -1 })).rejects.toMatchObject({ code: "23514" });
      await expect(insertServer(db, { name: "bad", host: "x", capacity: 1, status: "gone" as never })).rejects.toMatchObject({ code: "23514" });
    });

    it("getServerByName / getServer find it, or return null", async () => {
      expect((await getServerByName(db, "fsn1-2"))?.id).toBe(2);
      expect((await getServer(db, 1))?.name).toBe("fsn1-1");
      expect(await getServerByName(db, "nope")).toBeNull();
      expect(await getServer(db, 999)).toBeNull();
    });

    it("updateServerFacts stores facts and stamps checkedAt; updated_at follows every update", async () => {
      const before = (await getServer(db, 1))!;
      await db.query("select pg_sleep(0.01)");
      await updateServerFacts(db, 1, { engineVersion: "27.3.1", composeVersion: "2.29.7", cpus: 4, memTotalBytes: 8e9, diskFreeBytes: 5e10 });
      const after = (await getServer(db, 1))!;
      expect(after.facts).toEqual({ engineVersion: "27.3.1", composeVersion: "2.29.7", cpus: 4, memTotalBytes: 8e9, diskFreeBytes: 5e10 });
      expect(after.checkedAt).toBeInstanceOf(Date);
      expect(after.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
      expect(after.createdAt).toEqual(before.createdAt);
    });

    it("updateServerStatus / updateServerLabels", async () => {
      await updateServerStatus(db, 1, "active");
      await updateServerLabels(db, 1, { region: "fsn1", tier: "a" });
      expect(await getServer(db, 1)).toMatchObject({ status: "active", labels: { region: "fsn1", tier: "a" } });
    });
  });

  describe("tenants", () => {
    it("insert fills defaults", async () => {
      const t = await insertTenant(db, { slug: "acme", plan: "pro", weight: 2, serverId: 1, subnet: "10.40.1.0/24" });
      ids.acme = t.id;
      expect(t).toMatchObject({
        id: 1,
        slug: "acme",
        plan: "pro",
        weight: 2,
        serverId: 1,
        status: "provisioning",
        subnet: "10.40.1.0/24",
        timezone: "UTC",
        failedStep: null,
        error: null,
      });
    });

    it("a live duplicate slug is a ConflictError", async () => {
      await expect(insertTenant(db, { slug: "acme", plan: "pro" })).rejects.toMatchObject({
        constructor: ConflictError,
        code: "tenant-exists",
        message: "tenant 'acme' already exists",
      });
    });

    it("a subnet is unique per server among live tenants", async () => {
      await expect(insertTenant(db, { slug: "beta", plan: "basic", serverId: 1, subnet: "10.40.1.0/24" })).rejects.toMatchObject({
        code: "subnet-taken",
      });
      // the same subnet on another server is fine
      const b = await insertTenant(db, { slug: "beta", plan: "basic", serverId: 2, subnet: "10.40.1.0/24", timezone: "Europe/Berlin" });
      expect(b).toMatchObject({ serverId: 2, timezone: "Europe/Berlin" });
      ids.beta = b.id;
    });

    it("the schema rejects a bad slug and a subnet with host bits", async () => {
      await expect(insertTenant(db, { slug: "Bad_Slug", plan: "pro" })).rejects.toMatchObject({ code: "23514" });
      await expect(insertTenant(db, { slug: "ab", plan: "pro" })).rejects.toMatchObject({ code: "23514" });
      await expect(insertTenant(db, { slug: "gamma", plan: "pro", serverId: 1, subnet: "10.40.2.1/24" })).rejects.toMatchObject({ code: "22P02" });
    });

    it("updateTenantStatus: failed records step and error, any other status clears them", async () => {
      await updateTenantStatus(db, 1, "failed", { failedStep: "ship", error: "ssh: connection refused" });
      expect(await getTenant(db, "acme")).toMatchObject({ status: "failed", failedStep: "ship", error: "ssh: connection refused" });
      await updateTenantStatus(db, 1, "active", { failedStep: "ignored", error: "ignored" });
      expect(await getTenant(db, "acme")).toMatchObject({ status: "active", failedStep: null, error: null });
    });

    it("a deleted tenant frees its slug and subnet, and stays as history", async () => {
      const c = await insertTenant(db, { slug: "gamma", plan: "basic", serverId: 1, subnet: "10.40.2.0/24" });
      await updateTenantStatus(db, c.id, "deleted");
      expect(await getTenant(db, "gamma")).toBeNull();
      expect(await getTenant(db, "gamma", { includeDeleted: true })).toMatchObject({ id: c.id, status: "deleted" });
      const again = await insertTenant(db, { slug: "gamma", plan: "pro", weight: 3, serverId: 1, subnet: "10.40.2.0/24" });
      expect(again.id).toBeGreaterThan(c.id);
      expect(await getTenant(db, "gamma")).toMatchObject({ id: again.id, status: "provisioning" });
      expect(await getTenant(db, "gamma", { includeDeleted: true })).toMatchObject({ id: again.id });
      expect((await getTenantById(db, c.id))?.status).toBe("deleted");
      await updateTenantStatus(db, again.id, "failed", { failedStep: "health", error: "n8n not ready after 120 s" });
      ids.gamma = again.id;
    });

    it("listTenants filters by server, server name and status; deleted only when asked", async () => {
      const slugs = async (f: Parameters<typeof listTenants>[1]) => (await listTenants(db, f)).map((t) => `${t.slug}@${t.serverName}:${t.status}`);
      expect(await slugs({})).toEqual(["acme@fsn1-1:active", "beta@fsn1-2:provisioning", "gamma@fsn1-1:failed"]);
      expect(await slugs({ serverId: 1 })).toEqual(["acme@fsn1-1:active", "gamma@fsn1-1:failed"]);
      expect(await slugs({ serverName: "fsn1-2" })).toEqual(["beta@fsn1-2:provisioning"]);
      expect(await slugs({ status: "failed" })).toEqual(["gamma@fsn1-1:failed"]);
      expect(await slugs({ status: ["active", "provisioning"] })).toEqual(["acme@fsn1-1:active", "beta@fsn1-2:provisioning"]);
      expect(await slugs({ status: "deleted" })).toEqual(["gamma@fsn1-1:deleted"]);
      expect(await slugs({ serverId: 1, includeDeleted: true })).toEqual(["acme@fsn1-1:active", "gamma@fsn1-1:deleted", "gamma@fsn1-1:failed"]);
    });

    it("countTenants per status; total leaves out deleted", async () => {
      expect(await countTenants(db)).toEqual({ provisioning: 1, active: 1, suspended: 0, failed: 1, deleting: 0, deleted: 1, restoring: 0, migrating: 0, upgrading: 0, total: 3 });
      expect(await countTenants(db, { serverId: 2 })).toMatchObject({ provisioning: 1, total: 1 });
    });

    it("setTenantPlan / assignTenantServer / usedSubnets", async () => {
      await setTenantPlan(db, ids.beta!, "pro", 2);
      await assignTenantServer(db, ids.beta!, 1, "10.40.3.0/24");
      expect(await getTenant(db, "beta")).toMatchObject({ plan: "pro", weight: 2, serverId: 1, subnet: "10.40.3.0/24" });
      expect(await usedSubnets(db, 1)).toEqual(["10.40.1.0/24", "10.40.2.0/24", "10.40.3.0/24"]);
      expect(await usedSubnets(db, 2)).toEqual([]);
      await expect(assignTenantServer(db, ids.beta!, 1, "10.40.1.0/24")).rejects.toMatchObject({ code: "subnet-taken" });
    });

    it("listServers sums live tenants' weights per server (failed ones count, deleted ones do not)", async () => {
      const servers = await listServers(db);
      expect(servers.map((s) => [s.name, s.tenantCount, s.usedCapacity, s.freeCapacity])).toEqual([
        ["fsn1-1", 3, 7, 13],
        ["fsn1-2", 0, 0, 10],
      ]);
      expect((await listServers(db, { status: "active" })).map((s) => s.name)).toEqual(["fsn1-1", "fsn1-2"]);
      await updateServerStatus(db, 2, "draining");
      expect((await listServers(db, { status: "draining" })).map((s) => s.name)).toEqual(["fsn1-2"]);
    });

    it("removeServer refuses while live tenants are on it, then detaches deleted ones and removes it", async () => {
      await assignTenantServer(db, ids.beta!, 2, "10.40.3.0/24");
      await expect(removeServer(db, 2)).rejects.toMatchObject({
        constructor: ConflictError,
        code: "server-not-empty",
        message: "server 'fsn1-2' still holds 1 tenant(s)",
      });
      await updateTenantStatus(db, ids.beta!, "deleted");
      expect(await db.transaction((tx) => removeServer(tx, 2))).toBe(true);
      expect(await getServerByName(db, "fsn1-2")).toBeNull();
      expect((await getTenantById(db, ids.beta!))?.serverId).toBeNull();
      expect(await removeServer(db, 2)).toBe(false);
    });
  });

  describe("tenant secrets", () => {
    it("put / get / list hold ciphertext bytes exactly; put replaces", async () => {
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 0]);
      await putTenantSecret(db, 1, { name: "POSTGRES_PASSWORD", keyId: "k1", ciphertext: bytes });
      await putTenantSecrets(db, 1, [
        { name: "N8N_ENCRYPTION_KEY", keyId: "k1", ciphertext: new Uint8Array([9, 9]) },
        { name: "REDIS_PASSWORD", keyId: "k1", ciphertext: Buffer.from("opaque") },
      ]);
      const got = await getTenantSecret(db, 1, "POSTGRES_PASSWORD");
      expect(got).toMatchObject({ tenantId: 1, name: "POSTGRES_PASSWORD", keyId: "k1" });
      expect(Buffer.isBuffer(got!.ciphertext)).toBe(true);
      expect(got!.ciphertext.equals(bytes)).toBe(true);
      await putTenantSecret(db, 1, { name: "POSTGRES_PASSWORD", keyId: "k2", ciphertext: Buffer.from([7]) });
      const replaced = await getTenantSecret(db, 1, "POSTGRES_PASSWORD");
      expect(replaced?.keyId).toBe("k2");
      expect([...replaced!.ciphertext]).toEqual([7]);
      expect((await listTenantSecrets(db, 1)).map((s) => s.name)).toEqual(["N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"]);
      expect(await listTenantSecretNames(db, 1)).toEqual(["N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"]);
      expect(await getTenantSecret(db, 1, "NOPE")).toBeNull();
    });

    it("deleteTenantSecrets removes them all and says how many", async () => {
      await putTenantSecret(db, ids.gamma!, { name: "X", keyId: "k1", ciphertext: Buffer.from([1]) });
      expect(await deleteTenantSecrets(db, ids.gamma!)).toBe(1);
      expect(await listTenantSecrets(db, ids.gamma!)).toEqual([]);
      expect(await listTenantSecrets(db, ids.acme!)).toHaveLength(3);
    });
  });

  describe("operations journal", () => {
    it("start → running; finish → done with merged details; fail → failed with the error", async () => {
      const place = await startStep(db, { kind: "tenant.create", step: "place", tenantId: 1, details: { server: "fsn1-1" } });
      expect(place).toMatchObject({ tenantId: 1, serverId: null, kind: "tenant.create", step: "place", status: "running", error: null, finishedAt: null });
      await finishStep(db, place.id, { subnet: "10.40.1.0/24" });
      const ship = await startStep(db, { kind: "tenant.create", step: "ship", tenantId: 1 });
      await failStep(db, ship.id, "ssh: connection refused");
      const [p, s] = await listOperations(db, { tenantId: 1 });
      expect(p).toMatchObject({ status: "done", details: { server: "fsn1-1", subnet: "10.40.1.0/24" } });
      expect(p!.finishedAt).toBeInstanceOf(Date);
      expect(s).toMatchObject({ status: "failed", error: "ssh: connection refused" });
    });

    it("finishing a step that is not running is a bug and throws", async () => {
      const [p] = await listOperations(db, { tenantId: 1 });
      await expect(finishStep(db, p!.id)).rejects.toThrow(/is not running/);
      await expect(failStep(db, 99_999, "x")).rejects.toThrow(/is not running/);
    });

    it("completedSteps: what a resumed run may skip", async () => {
      const ship = await startStep(db, { kind: "tenant.create", step: "ship", tenantId: 1 });
      await finishStep(db, ship.id);
      await startStep(db, { kind: "tenant.create", step: "health", tenantId: 1 });
      await finishStep(db, (await startStep(db, { kind: "server.bootstrap", step: "docker", serverId: 1 })).id);
      expect(await completedSteps(db, 1, "tenant.create")).toEqual(["place", "ship"]);
      expect(await completedSteps(db, ids.gamma!, "tenant.create")).toEqual([]);
    });

    it("listOperations filters and limits (newest N, in journal order)", async () => {
      const steps = async (f: Parameters<typeof listOperations>[1]) => (await listOperations(db, f)).map((o) => `${o.step}:${o.status}`);
      expect(await steps({ tenantId: 1 })).toEqual(["place:done", "ship:failed", "ship:done", "health:running"]);
      expect(await steps({ tenantId: 1, limit: 2 })).toEqual(["ship:done", "health:running"]);
      expect(await steps({ status: "running" })).toEqual(["health:running"]);
      expect(await steps({ serverId: 1 })).toEqual(["docker:done"]);
      expect(await steps({ kind: "server.bootstrap" })).toEqual(["docker:done"]);
    });
  });

  describe("audit log", () => {
    it("appends with the OS user and hostname by default", async () => {
      const e = await appendAudit(db, { action: "tenant.create", target: "acme", details: { plan: "pro", server: "fsn1-1" } });
      expect(e).toMatchObject({ actor: osUser(), host: os.hostname(), action: "tenant.create", target: "acme", details: { plan: "pro", server: "fsn1-1" }, before: null, after: null });
      expect(e.at).toBeInstanceOf(Date);
    });

    it("stores before/after and redacts secret-looking keys anywhere in them", async () => {
      const e = await appendAudit(db, {
        actor: "ops",
        host: "laptop",
        action: "tenant.set-plan",
        target: "acme",
        details: { ownerPassword: "hunter2", nested: { apiKey: "n8n_api_123", ok: 1 }, list: [{ token: "t" }] },
        before: { plan: "basic" },
        after: { plan: "pro", N8N_ENCRYPTION_KEY: "k" },
      });
      expect(e.details).toEqual({ ownerPassword: "[REDACTED]", nested: { apiKey: "[REDACTED]", ok: 1 }, list: [{ token: "[REDACTED]" }] });
      expect(e.after).toEqual({ plan: "pro", N8N_ENCRYPTION_KEY: "[REDACTED]" });
      expect(JSON.stringify(await listAudit(db))).not.toMatch(/hunter2|n8n_api_123/);
    });

    it("listAudit filters by time, action and target, and limits to the newest", async () => {
      await appendAudit(db, { action: "server.add", target: "fsn1-3" });
      const all = await listAudit(db);
      expect(all.map((e) => e.action)).toEqual(["tenant.create", "tenant.set-plan", "server.add"]);
      expect((await listAudit(db, { action: "server.add" })).map((e) => e.target)).toEqual(["fsn1-3"]);
      expect((await listAudit(db, { target: "acme" })).length).toBe(2);
      expect((await listAudit(db, { limit: 1 })).map((e) => e.action)).toEqual(["server.add"]);
      expect(await listAudit(db, { since: new Date(Date.now() + 60_000) })).toEqual([]);
      expect((await listAudit(db, { since: all[0]!.at })).length).toBe(3);
    });
  });

  describe("backups", () => {
    it("insert (running) → complete / fail / verify / delete; list newest first", async () => {
      const b = await insertBackup(db, { id: "acme-20260101T020000Z", tenantId: 1, tenantSlug: "acme", location: "/backups/acme-1.tar.age", n8nVersion: "1.80.0" });
      expect(b).toMatchObject({ status: "running", sizeBytes: null, sha256: null, manifest: {}, verifiedAt: null, finishedAt: null });
      await completeBackup(db, b.id, { sizeBytes: 5_000_000_000, sha256: SHA, manifest: { files: ["db.dump", "n8n.tar"] } });
      await markBackupVerified(db, b.id);
      expect(await getBackup(db, b.id)).toMatchObject({ status: "done", sizeBytes: 5_000_000_000, sha256: SHA, manifest: { files: ["db.dump", "n8n.tar"] } });
      expect((await getBackup(db, b.id))!.verifiedAt).toBeInstanceOf(Date);

      await db.query("select pg_sleep(0.01)");
      const f = await insertBackup(db, { id: "acme-20260102T020000Z", tenantId: 1, tenantSlug: "acme", location: "s3://b/acme-2" });
      await failBackup(db, f.id, "pg_dump exited 1");
      await insertBackup(db, { id: "beta-20260102T020000Z", tenantSlug: "beta", location: "s3://b/beta-1" });
      await markBackupDeleted(db, "beta-20260102T020000Z");

      expect((await listBackups(db, { tenantSlug: "acme" })).map((x) => `${x.id}:${x.status}`)).toEqual([
        "acme-20260102T020000Z:failed",
        "acme-20260101T020000Z:done",
      ]);
      expect((await listBackups(db, { status: "deleted" })).map((x) => x.id)).toEqual(["beta-20260102T020000Z"]);
      expect((await listBackups(db, { limit: 1 })).length).toBe(1);
      expect(await getBackup(db, "nope")).toBeNull();
    });

    it("the schema refuses a done backup without size and checksum", async () => {
      await insertBackup(db, { id: "acme-x", tenantSlug: "acme", location: "/b" });
      await expect(db.query("update backups set status = 'done' where id = $1", ["acme-x"])).rejects.toMatchObject({ code: "23514" });
    });
  });

  describe("workflow deployments", () => {
    it("record / list history / current = newest deployed per workflow", async () => {
      await recordWorkflowDeployment(db, { tenantId: 1, workflowKey: "wf1", version: "1.0.0", n8nId: "a1", checksum: "c1" });
      await recordWorkflowDeployment(db, { tenantId: 1, workflowKey: "wf2", version: "1.0.0", n8nId: "b1", checksum: "c2" });
      const v11 = await recordWorkflowDeployment(db, { tenantId: 1, workflowKey: "wf1", version: "1.1.0", n8nId: "a1", checksum: "c3" });
      await recordWorkflowDeployment(db, { tenantId: 1, workflowKey: "wf2", version: "1.1.0", checksum: "c4", status: "failed", error: "n8n 400" });
      expect((await currentWorkflowDeployments(db, 1)).map((d) => `${d.workflowKey}@${d.version}`)).toEqual(["wf1@1.1.0", "wf2@1.0.0"]);

      await setWorkflowDeploymentStatus(db, v11.id, "rolled_back");
      expect((await currentWorkflowDeployments(db, 1)).map((d) => `${d.workflowKey}@${d.version}`)).toEqual(["wf1@1.0.0", "wf2@1.0.0"]);

      expect((await listWorkflowDeployments(db, { tenantId: 1, workflowKey: "wf1" })).map((d) => `${d.version}:${d.status}`)).toEqual([
        "1.1.0:rolled_back",
        "1.0.0:deployed",
      ]);
      expect((await listWorkflowDeployments(db, { limit: 2 })).length).toBe(2);
      expect(await currentWorkflowDeployments(db, ids.gamma!)).toEqual([]);
    });
  });
});

describe("pg and the embedded server", () => {
  it("hold identical rows after the same calls", () => {
    expect(dumps.size).toBe(2);
    expect(dumps.get("embedded")).toEqual(dumps.get("pg"));
    expect(Object.values(dumps.get("pg")!).every((rows) => rows.length > 0)).toBe(true);
  });
});
