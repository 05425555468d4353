import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAllSecrets, storeSecrets } from "../../../src/ops/tenant-secrets.js";
import { loadMasterKey } from "../../../src/secrets/master-key.js";
import { errorLines, stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// `btw state backup` / `state restore`: the whole central state, encrypted into the backup
// storage, brought back on a "fresh machine" (another $BTW_HOME and another database) that has
// only the storage settings and the master key.
const TABLES_COMPARED = ["servers", "tenants", "tenant_secrets", "backups", "host_keys", "master_keys", "state_identity", "workflow_deployments"];

describe("state backup and restore (pg state)", () => {
  let pgA: TestDatabase;
  let pgB: TestDatabase;
  let a: BtwHome;
  let b: BtwHome;
  let storageDir: string;
  let fragment: string;

  const rows = async (h: BtwHome, table: string) => stateSql(h, `select * from ${table} order by 1, 2`);

  beforeAll(async () => {
    [pgA, pgB] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    storageDir = mkdtempSync(join(tmpdir(), "btw-storage-"));
    fragment = join(storageDir, "..", `${storageDir.split("/").pop()}.yml`);
    writeFileSync(fragment, `backup:\n  storage:\n    type: dir\n    path: ${storageDir}\n`);
    a = tempHome({ BTW_DATABASE_URL: pgA.url });
    const init = await a.run(["init", "--domain", "example.com", "--tls", "off", "--merge", fragment]);
    expect(init.code, init.stderr).toBe(0);
    const { openDb } = await import("../../../src/state/db.js");
    const db = await openDb({ url: pgA.url, dataDir: "unused", command: "fixture" });
    try {
      const { insertServer } = await import("../../../src/state/servers.js");
      const { insertTenant } = await import("../../../src/state/tenants.js");
      const s = await insertServer(db, { name: "fsn1-1", host: "10.0.0.1", capacity: 10 });
      const t = await insertTenant(db, { slug: "acme", plan: "starter", serverId: s.id, subnet: "172.30.0.0/24", status: "active" });
      await storeSecrets(db, loadMasterKey(a.dir, {}), t.id, { POSTGRES_PASSWORD: "pw-acme", N8N_ENCRYPTION_KEY: "enc-acme" });
      await db.query(`insert into backups (id, tenant_slug, location, status, size_bytes, sha256, finished_at) values ('acme-20260101T000000Z-0001', 'acme', $1, 'done', 10, $2, now())`, [
        join(storageDir, "acme", "acme-20260101T000000Z-0001.btwb"),
        "0".repeat(64),
      ]);
      await db.query(`insert into host_keys (host, port, key_type, public_key, fingerprint, source) values ('10.0.0.1', 22, 'ssh-ed25519', 'AAAA', 'SHA256:x', 'first-contact')`);
    } finally {
      await db.close();
    }
  });
  afterAll(async () => {
    a?.cleanup();
    b?.cleanup();
    rmSync(storageDir, { recursive: true, force: true });
    rmSync(fragment, { force: true });
    await Promise.all([pgA?.drop(), pgB?.drop()]);
  });

  it("state backup writes an encrypted object and _state/LATEST; nothing secret is readable in it", async () => {
    const r = await a.run(["state", "backup", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; tables: Record<string, number> };
    expect(out.id).toMatch(/^state-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect(out.tables).toMatchObject({ servers: 1, tenants: 1, tenant_secrets: 2, backups: 1, host_keys: 1 });
    expect(readFileSync(join(storageDir, "_state", "LATEST"), "utf8").trim()).toBe(out.id);
    const raw = readFileSync(join(storageDir, "_state", `${out.id}.btwb`));
    expect(raw.subarray(0, 4).toString()).toBe("BTWB");
    expect(raw.includes(Buffer.from("fsn1-1"))).toBe(false);
    expect(raw.includes(Buffer.from("10.0.0.1"))).toBe(false);
  });

  it("after a key rotation, state restore on a fresh machine gives back every row; secrets open; a used state is refused", async () => {
    // the backup above was sealed by the key before this rotation: it must still restore
    const rot = await a.run(["key", "rotate", "--yes"]);
    expect(rot.code, rot.stderr).toBe(0);

    b = tempHome({ BTW_DATABASE_URL: pgB.url });
    // the "recovery": the current key and the keyring (what `key import` of a recovery file writes)
    copyFileSync(join(a.dir, "master.key"), join(b.dir, "master.key"));
    const { cpSync } = await import("node:fs");
    cpSync(join(a.dir, "keyring"), join(b.dir, "keyring"), { recursive: true });
    const init = await b.run(["init", "--domain", "example.com", "--tls", "off", "--merge", fragment]);
    expect(init.code, init.stderr).toBe(0);

    const dry = await b.run(["state", "restore", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(await rows(b, "tenants")).toEqual([]);

    const r = await b.run(["state", "restore", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    // the restored rows are the backup's: A's state before the rotation
    const backupId = readFileSync(join(storageDir, "_state", "LATEST"), "utf8").trim();
    expect(JSON.parse(r.stdout)).toMatchObject({ id: backupId, restored: { tenants: 1, servers: 1 } });
    for (const t of TABLES_COMPARED.filter((x) => x !== "tenant_secrets" && x !== "master_keys")) expect(await rows(b, t), t).toEqual(await rows(a, t));
    const { openDb } = await import("../../../src/state/db.js");
    const db = await openDb({ url: pgB.url, dataDir: "unused", command: "check" });
    try {
      const tenantId = ((await db.query<{ id: number }>(`select id from tenants where slug = 'acme'`)).rows[0]!).id;
      expect(Object.fromEntries(await readAllSecrets(db, loadMasterKey(b.dir, {}), tenantId))).toEqual({ N8N_ENCRYPTION_KEY: "enc-acme", POSTGRES_PASSWORD: "pw-acme" });
      // identity sequences continue past the restored ids
      const { insertTenant } = await import("../../../src/state/tenants.js");
      await expect(insertTenant(db, { slug: "beta", plan: "starter" })).resolves.toMatchObject({ slug: "beta" });
    } finally {
      await db.close();
    }
    const list = await b.run(["backup", "list", "--tenant", "acme", "--json"]);
    expect((JSON.parse(list.stdout) as { backups: Array<{ id: string }> }).backups.map((x) => x.id)).toEqual(["acme-20260101T000000Z-0001"]);

    const again = await b.run(["state", "restore", "--yes"]);
    expect(again.code).toBe(2);
    expect(errorLines(again.stderr)).toEqual([expect.stringMatching(/this state is in use .*: state restore fills a fresh state only/)]);
    const bad = await b.run(["state", "restore", "--backup", "nope", "--yes"]);
    expect(bad.code).toBe(2);
  });

  it("backup all ends with a state backup", async () => {
    const before = readdirSync(join(storageDir, "_state")).filter((f) => f.endsWith(".btwb")).length;
    const r = await b.run(["backup", "all", "--json", "--server", "nowhere"]);
    // an unknown server is bad input: no state backup either
    expect(r.code).toBe(2);
    const ok = await a.run(["backup", "all", "--json", "--concurrency", "1"]);
    const out = JSON.parse(ok.stdout) as { stateBackup: { ok: boolean; id: string } };
    expect(out.stateBackup).toMatchObject({ ok: true });
    expect(readFileSync(join(storageDir, "_state", "LATEST"), "utf8").trim()).toBe(out.stateBackup.id);
    expect(readdirSync(join(storageDir, "_state")).filter((f) => f.endsWith(".btwb")).length).toBe(before + 1);
  });
});
