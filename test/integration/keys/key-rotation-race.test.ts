import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Ctx } from "../../../src/cli/context.js";
import { rotateMasterKey } from "../../../src/ops/key/rotate.js";
import { readAllSecrets, storeSecrets } from "../../../src/ops/tenant-secrets.js";
import { createMasterKeyFile, loadMasterKey, type MasterKey } from "../../../src/secrets/master-key.js";
import type { Db, Queryable } from "../../../src/state/db.js";
import { registerFirstKey } from "../../../src/state/master-keys.js";
import { migrate } from "../../../src/state/migrate.js";
import { deleteTenantSecretsNamed } from "../../../src/state/tenant-secrets.js";
import { insertTenant } from "../../../src/state/tenants.js";
import { DRIVERS, driverFixture, type DriverFixture } from "../state/drivers.js";

// `key rotate` against secrets written while it runs (both stores, two connections): the
// rotation reads every secret, then re-seals each. A `tenant secrets set` (or `secrets
// rotate`) committing in between must not be overwritten by the value read before it, and
// ends up sealed under the new key like every other secret.

/** `db`, whose transactions run `between` (once) right after their first read of tenant_secrets. */
function interleaved(db: Db, between: () => Promise<void>): Db {
  let fired = false;
  const wrap = (tx: Queryable): Queryable => ({
    async query(sql, params) {
      const r = await tx.query(sql, params);
      if (!fired && /^\s*select\b[\s\S]*\bfrom tenant_secrets\b/i.test(sql)) {
        fired = true;
        await between();
      }
      return r as never;
    },
  });
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "transaction") return <T>(fn: (tx: Queryable) => Promise<T>) => target.transaction((tx) => fn(wrap(tx)));
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe.each(DRIVERS)("key rotate beside a secret written at the same time (%s state)", (driver) => {
  let fx: DriverFixture;
  let home: string;
  let db: Db;
  /** the second connection: another btw process setting a secret */
  let writer: Db;
  let tenantId: number;
  const ctx = () => ({ home, master: async () => loadMasterKey(home, {}) }) as unknown as Ctx;
  /** the new key alone: no keyring, so only what was re-sealed under it opens */
  const alone = (): MasterKey => {
    const k = loadMasterKey(home, {});
    return { id: k.id, key: k.key, source: "file" };
  };

  beforeAll(async () => {
    fx = await driverFixture(driver);
    home = mkdtempSync(join(tmpdir(), "btw-rotate-race-"));
    createMasterKeyFile(home);
    db = await fx.open({ command: "key rotate test" });
    writer = await fx.open({ command: "tenant secrets set test" });
    await migrate(db);
    await registerFirstKey(db, loadMasterKey(home, {}).id);
    tenantId = (await insertTenant(db, { slug: "acme", plan: "starter" })).id;
  }, 120_000);
  afterAll(async () => {
    await fx?.dispose();
    if (home) rmSync(home, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await db.query(`delete from tenant_secrets`);
    await storeSecrets(db, loadMasterKey(home, {}), tenantId, { POSTGRES_PASSWORD: "pg-1", OPENAI_API_KEY: "sk-old" });
  });

  it("a secret set between the rotation's read and its re-seal keeps its new value, sealed under the new key", async () => {
    const before = loadMasterKey(home, {}).id;
    // as `tenant secrets set` does: sealed with the master key it loaded (still the old one)
    const r = await rotateMasterKey(ctx(), interleaved(db, () => storeSecrets(writer, loadMasterKey(home, {}), tenantId, { OPENAI_API_KEY: "sk-new" })));
    expect(r).toMatchObject({ from: before, secrets: 2, resealed: 2 });
    expect(Object.fromEntries(await readAllSecrets(db, alone(), tenantId))).toEqual({ OPENAI_API_KEY: "sk-new", POSTGRES_PASSWORD: "pg-1" });
    expect((await db.query(`select distinct key_id from tenant_secrets`)).rows).toEqual([{ key_id: r.to }]);
  });

  it("a secret added meanwhile is sealed under the new key too; one removed meanwhile stays removed", async () => {
    const r = await rotateMasterKey(
      ctx(),
      interleaved(db, async () => {
        await storeSecrets(writer, loadMasterKey(home, {}), tenantId, { WORDPRESS_URL: "https://blog.example.com" });
        await deleteTenantSecretsNamed(writer, tenantId, ["POSTGRES_PASSWORD"]);
      }),
    );
    expect(r).toMatchObject({ secrets: 2, resealed: 2 });
    expect(Object.fromEntries(await readAllSecrets(db, alone(), tenantId))).toEqual({ OPENAI_API_KEY: "sk-old", WORDPRESS_URL: "https://blog.example.com" });
    expect((await db.query(`select distinct key_id from tenant_secrets`)).rows).toEqual([{ key_id: r.to }]);
  });
});
