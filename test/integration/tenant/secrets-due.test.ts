// `tenant secrets rotate --due` (the weekly cron job) against a real PostgreSQL: it picks the
// tenants whose rotated secrets reached secrets.rotationDays, and also every tenant whose last
// rotation did not finish — a rotation killed after promoting the new passwords has no *_NEXT
// password left and fresh password ages, and must still be finished by the next run.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dueTenants, ROTATE_KIND } from "../../../src/ops/tenant/secrets-rotate.js";
import type { Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { finishStep, startStep } from "../../../src/state/operations.js";
import { insertServer } from "../../../src/state/servers.js";
import { putTenantSecrets } from "../../../src/state/tenant-secrets.js";
import { insertTenant } from "../../../src/state/tenants.js";
import { driverFixture, type DriverFixture } from "../state/drivers.js";

describe("secrets rotation --due (pg)", () => {
  let fx: DriverFixture;
  let db: Db;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    fx = await driverFixture("pg");
    db = await fx.open();
    await migrate(db);
    const s = await insertServer(db, { name: "s1", host: "10.0.0.1", capacity: 10 });
    for (const slug of ["fresh", "stale", "killed", "finished"]) {
      const t = await insertTenant(db, { slug, plan: "starter", serverId: s.id, status: "active" });
      ids[slug] = t.id;
      await putTenantSecrets(
        db,
        t.id,
        ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_API_KEY"].map((name) => ({ name, keyId: "k1", ciphertext: Buffer.from("sealed") })),
      );
    }
    await db.query(`update tenant_secrets set value_set_at = now() - interval '100 days' where tenant_id = $1 and name = 'N8N_API_KEY'`, [ids.stale]);
    // killed after `promote`: the journal still running, every age fresh
    await startStep(db, { kind: ROTATE_KIND, step: "rotate", tenantId: ids.killed!, details: { order: "standard", done: "promote" } });
    const done = await startStep(db, { kind: ROTATE_KIND, step: "rotate", tenantId: ids.finished!, details: { order: "standard", done: "seal" } });
    await finishStep(db, done.id, { done: "finish" });
  });
  afterAll(async () => {
    await db?.close();
    await fx?.dispose();
  });

  it("picks tenants whose secrets are old, and those whose rotation was interrupted; not the others", async () => {
    expect((await dueTenants(db, 90)).map((d) => d.tenant).sort()).toEqual(["killed", "stale"]);
  });
});
