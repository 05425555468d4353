// btw's own facts as the state keeps them (migration 010_job_runs_verifications.sql) on a
// real PostgreSQL: newest backup/verify per live tenant, the newest verify's outcome (a
// failure included), job runs and notifications that could not be delivered.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completeBackup, failBackup, insertBackup, markBackupVerified } from "../../../src/state/backups.js";
import type { Db } from "../../../src/state/db.js";
import { finishJobRun, lastRunPerJob, recordDeliveries, startJobRun, undeliveredNotifications } from "../../../src/state/job-runs.js";
import { migrate } from "../../../src/state/migrate.js";
import { recordVerification, tenantFacts } from "../../../src/state/monitoring-facts.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenant } from "../../../src/state/tenants.js";
import { driverFixture, type DriverFixture } from "../state/drivers.js";

const sha = "a".repeat(64);
let fx: DriverFixture;
let db: Db;

beforeAll(async () => {
  fx = await driverFixture("pg");
  db = await fx.open();
  await migrate(db);
  const s = await insertServer(db, { name: "s1", host: "10.0.0.1", capacity: 10 });
  const acme = await insertTenant(db, { slug: "acme", plan: "starter", serverId: s.id, status: "active", images: { n8n: "n8nio/n8n:2.8.4", postgres: "postgres:17", redis: "redis:7" } });
  await insertTenant(db, { slug: "beta", plan: "starter", serverId: s.id, status: "active" });
  await insertTenant(db, { slug: "gone", plan: "starter", serverId: null, status: "deleted" });
  for (const [id, done] of [["acme-1", true], ["acme-2", true], ["acme-3", false]] as const) {
    await insertBackup(db, { id, tenantId: acme.id, tenantSlug: "acme", location: `/b/${id}` });
    if (done) await completeBackup(db, id, { sizeBytes: 10, sha256: sha });
    else await failBackup(db, id, "disk full");
  }
  await insertBackup(db, { id: "gone-1", tenantSlug: "gone", location: "/b/gone-1" });
  await completeBackup(db, "gone-1", { sizeBytes: 10, sha256: sha });
  await markBackupVerified(db, "acme-1");
  await recordVerification(db, { backupId: "acme-1", tenantSlug: "acme", ok: true });
  await recordVerification(db, { backupId: "acme-2", tenantSlug: "acme", ok: false, detail: "workflows: 0 of 3" });
  // acme's volumes measured twice by usage collect (the newest sized one counts), then once unsized
  for (const [at, disk] of [["2026-12-01T01:00:00Z", 100], ["2026-12-01T02:00:00Z", 300], ["2026-12-01T03:00:00Z", null]] as const) {
    await db.query(`insert into resource_samples (tenant_id, taken_at, memory_bytes, cpu_cores, disk_bytes) values ($1, $2, 1, 0, $3)`, [acme.id, at, disk]);
  }
});
afterAll(() => fx?.dispose());

describe("tenantFacts", () => {
  it("gives each live tenant its newest completed and verified backup and the newest verify's outcome", async () => {
    const facts = await tenantFacts(db);
    expect(facts.map((f) => f.tenant)).toEqual(["acme", "beta"]);
    const [acme, beta] = facts;
    const times = (await db.query<{ id: string; finishedAt: Date; verifiedAt: Date | null }>(`select id, finished_at as "finishedAt", verified_at as "verifiedAt" from backups where tenant_slug = 'acme' and status = 'done' order by id`)).rows;
    expect(acme).toEqual({ tenant: "acme", server: "s1", n8nImage: "n8nio/n8n:2.8.4", lastBackupAt: times[1]!.finishedAt, lastVerifiedAt: times[0]!.verifiedAt, lastVerifyOk: false, volumeBytes: 300 });
    expect(beta).toEqual({ tenant: "beta", server: "s1", n8nImage: null, lastBackupAt: null, lastVerifiedAt: null, lastVerifyOk: null, volumeBytes: null });
  });
});

describe("job runs", () => {
  it("keeps the newest run per job, running or finished, and lists runs whose notification failed", async () => {
    const a = await startJobRun(db, "backup-all");
    await finishJobRun(db, a.id, 0, "ok");
    const b = await startJobRun(db, "backup-all");
    await finishJobRun(db, b.id, 3, "1 of 2 tenants failed");
    await recordDeliveries(db, b.id, [{ channel: "webhook", ok: true }, { channel: "email", ok: false, error: "connect ECONNREFUSED" }]);
    const p = await startJobRun(db, "prune");
    const last = await lastRunPerJob(db);
    expect(last.map((r) => [r.job, r.id, r.exitCode])).toEqual([["backup-all", b.id, 3], ["prune", p.id, null]]);
    expect(last[0]!.report).toBe("1 of 2 tenants failed");
    const undelivered = await undeliveredNotifications(db);
    expect(undelivered.map((r) => r.id)).toEqual([b.id]);
    expect(undelivered[0]!.notified).toEqual([{ channel: "webhook", ok: true }, { channel: "email", ok: false, error: "connect ECONNREFUSED" }]);
  });

  it("refuses a job name that is not a slug", async () => {
    await expect(startJobRun(db, "Backup All")).rejects.toThrow();
  });
});
