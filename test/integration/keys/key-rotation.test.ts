import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptStream } from "../../../src/core/backup/crypto-stream.js";
import { buffer } from "node:stream/consumers";
import { ageDecryptStream } from "../../../src/core/backup/age.js";
import { BACKUP_FORMAT, dataKeyContext, type BackupManifest, type BackupStart } from "../../../src/core/backup/manifest.js";
import { writeBackupObject } from "../../../src/ops/backup/object.js";
import { metricsToken } from "../../../src/ops/server/secrets.js";
import { readAllSecrets, storeSecrets } from "../../../src/ops/tenant-secrets.js";
import { checkBackup, decryptedStream } from "../../../src/ops/backup/restore-data.js";
import { DirStorage } from "../../../src/remote/backup-dir.js";
import { seal } from "../../../src/secrets/envelope.js";
import { loadMasterKey } from "../../../src/secrets/master-key.js";
import { backupRecipients, loadRecoveryIdentity, loadRetiredRecoveryIdentities } from "../../../src/secrets/recovery-identity.js";
import { errorLines, stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// Master key rotation and recovery against a real PostgreSQL state shared by two "hosts"
// (two $BTW_HOME): rotate re-seals every secret, backups from before still open, the
// recovery file round-trips, and a second host's init refuses a state sealed by another key.
const PASS = "correct horse battery staple";

async function withDb<T>(url: string, fn: (db: Awaited<ReturnType<typeof import("../../../src/state/db.js").openDb>>) => Promise<T>): Promise<T> {
  const { openDb } = await import("../../../src/state/db.js");
  const db = await openDb({ url, dataDir: "unused", command: "key test" });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function writeOldBackup(home: BtwHome, storage: DirStorage, id: string, body: string): Promise<string> {
  const master = loadMasterKey(home.dir, {});
  const key = `acme/${id}.btwb`;
  const enc = encryptStream({ backupId: id, tenant: "acme", keyId: master.id, wrapKey: (k) => seal(master, dataKeyContext(id), k) });
  await storage.put(key, Readable.from([Buffer.from(body)]).pipe(enc));
  return key;
}

async function writeAgeBackup(home: BtwHome, storage: DirStorage, id: string, body: string): Promise<string> {
  const master = loadMasterKey(home.dir, {});
  const key = `acme/${id}.btwb`;
  const start: BackupStart = { format: BACKUP_FORMAT, id, tenant: "acme", createdAt: "2026-01-01T00:00:00.000Z", server: "s", plan: "starter", timezone: "UTC", n8nVersion: null, images: { n8n: null, postgres: null, redis: null } };
  await writeBackupObject({
    storage,
    key,
    start,
    secrets: new Map([["N8N_ENCRYPTION_KEY", "enc-secret-1"]]),
    parts: [{ name: "postgres.dump", open: async () => Readable.from([Buffer.from(body)]) }],
    finish: (parts): BackupManifest => ({ ...start, finishedAt: start.createdAt, parts, counts: { workflows: null, credentials: null, executions: null }, escrow: { keyId: master.id, sealed: "x", names: [] } }),
    recipients: backupRecipients(master, home.dir, {}).recipients,
  });
  return key;
}

async function readBackup(home: BtwHome, storage: DirStorage, key: string, id: string): Promise<string> {
  const chunks: Buffer[] = [];
  await pipeline(await decryptedStream(storage, key, loadMasterKey(home.dir, {}), id), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) chunks.push(c);
  });
  return Buffer.concat(chunks).toString();
}

describe("btw key (pg state)", () => {
  let pg: TestDatabase;
  let a: BtwHome;
  let tenantId: number;
  let serverId: number;
  let metrics: string;
  beforeAll(async () => {
    pg = await createTestDatabase();
    a = tempHome({ BTW_DATABASE_URL: pg.url });
    const init = await a.run(["init", "--domain", "example.com", "--tls", "off"]);
    expect(init.code, init.stderr).toBe(0);
    tenantId = await withDb(pg.url, async (db) => {
      const { insertTenant } = await import("../../../src/state/tenants.js");
      const t = await insertTenant(db, { slug: "acme", plan: "starter" });
      await storeSecrets(db, loadMasterKey(a.dir, {}), t.id, { POSTGRES_PASSWORD: "pg-secret-1", N8N_ENCRYPTION_KEY: "enc-secret-1" });
      return t.id;
    });
    // a server's metrics token: a secret of the state too
    [serverId, metrics] = await withDb(pg.url, async (db) => {
      const { insertServer } = await import("../../../src/state/servers.js");
      const s = await insertServer(db, { name: "fsn1-1", host: "203.0.113.1", capacity: 10 });
      return [s.id, (await metricsToken(db, loadMasterKey(a.dir, {}), s.id, { create: true }))!] as const;
    });
  });
  afterAll(async () => {
    a?.cleanup();
    await pg?.drop();
  });

  it("init records the key; a second host's init refuses (exit 2), leaving no key and no config behind", async () => {
    const rows = (await stateSql(a, `select id, status from master_keys`)) as Array<{ id: string; status: string }>;
    expect(rows).toEqual([{ id: loadMasterKey(a.dir, {}).id, status: "current" }]);
    const b = tempHome({ BTW_DATABASE_URL: pg.url });
    try {
      const r = await b.run(["init", "--domain", "example.com", "--tls", "off"]);
      expect(r.code, r.stderr).toBe(2);
      expect(errorLines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(/already holds secrets sealed by master key [0-9a-f]{12}: refusing to create a second key/);
      expect(r.stderr).toMatch(/btw key import/);
      expect(existsSync(join(b.dir, "master.key"))).toBe(false);
      expect(existsSync(join(b.dir, "btw.yml"))).toBe(false);
      // with a key of its own, the same refusal names both keys
      const other = tempHome({ BTW_DATABASE_URL: pg.url, BTW_MASTER_KEY: Buffer.alloc(32, 7).toString("base64") });
      try {
        const r2 = await other.run(["init", "--domain", "example.com", "--tls", "off"]);
        expect(r2.code).toBe(2);
        expect(r2.stderr).toMatch(/this host's key is [0-9a-f]{12}: refusing to mix keys/);
      } finally {
        other.cleanup();
      }
    } finally {
      b.cleanup();
    }
  });

  it("export → import on a new host: the same key, then that host's init succeeds; a wrong passphrase is exit 2", async () => {
    const out = join(a.dir, "key.recovery");
    const exp = await a.run(["key", "export", "--recovery", "--out", out], { input: `${PASS}\n` });
    expect(exp.code, exp.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain(readFileSync(join(a.dir, "master.key"), "utf8").trim());
    expect(exp.stdout + exp.stderr).not.toContain(PASS);
    // refuses to overwrite; refuses a short passphrase; refuses without --recovery
    expect((await a.run(["key", "export", "--recovery", "--out", out], { input: `${PASS}\n` })).code).toBe(2);
    expect((await a.run(["key", "export", "--recovery"], { input: "short\n" })).code).toBe(2);
    expect((await a.run(["key", "export"], { input: `${PASS}\n` })).code).toBe(2);

    const b = tempHome({ BTW_DATABASE_URL: pg.url });
    try {
      const wrong = await b.run(["key", "import", out], { input: "not the passphrase\n" });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/wrong passphrase/);
      expect(existsSync(join(b.dir, "master.key"))).toBe(false);
      const imp = await b.run(["key", "import", out], { input: `${PASS}\n` });
      expect(imp.code, imp.stderr).toBe(0);
      expect(loadMasterKey(b.dir, {}).id).toBe(loadMasterKey(a.dir, {}).id);
      // the backup recovery identity travels with the keys
      expect(loadRecoveryIdentity(b.dir)?.recipient).toBe(loadRecoveryIdentity(a.dir)?.recipient);
      const init = await b.run(["init", "--domain", "example.com", "--tls", "off"]);
      expect(init.code, init.stderr).toBe(0);
    } finally {
      b.cleanup();
    }
  });

  it("rotate re-seals every secret under a new key, the servers' metrics tokens too (values and ages kept); backups from before still open", async () => {
    const storage = new DirStorage(join(a.dir, "backups"));
    mkdirSync(storage.root, { recursive: true });
    const id = "acme-20260101T000000Z-0001";
    const key = await writeOldBackup(a, storage, id, "the database dump of before");
    const old = loadMasterKey(a.dir, {});
    const ageId = "acme-20260101T000000Z-0002";
    const ageKey = await writeAgeBackup(a, storage, ageId, "the age dump of before");
    const recoveryBefore = loadRecoveryIdentity(a.dir)!;
    const agesBefore = await stateSql(a, `select name, value_set_at from tenant_secrets order by name`);

    const dry = await a.run(["key", "rotate", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, from: old.id, secrets: 3 });
    expect(loadMasterKey(a.dir, {}).id).toBe(old.id);

    const r = await a.run(["key", "rotate", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { from: string; to: string; resealed: number };
    expect(out).toMatchObject({ from: old.id, resealed: 3 });
    const now = loadMasterKey(a.dir, {});
    expect(now.id).toBe(out.to);
    expect(now.id).not.toBe(old.id);
    expect([...now.ring!.keys()]).toContain(old.id);
    const ringFile = join(a.dir, "keyring", `${old.id}.key`);
    expect(statSync(ringFile).mode & 0o777).toBe(0o400);
    expect(existsSync(join(a.dir, "master.key.next"))).toBe(false);

    const keyIds = (await stateSql(a, `select distinct key_id from tenant_secrets`)) as Array<{ key_id: string }>;
    expect(keyIds).toEqual([{ key_id: now.id }]);
    expect(await stateSql(a, `select name, value_set_at from tenant_secrets order by name`)).toEqual(agesBefore);
    expect(await stateSql(a, `select id, status from master_keys order by status`)).toEqual([
      { id: now.id, status: "current" },
      { id: old.id, status: "retired" },
    ]);
    // the secrets open with the new key alone (no keyring)
    const secrets = await withDb(pg.url, (db) => readAllSecrets(db, { id: now.id, key: now.key, source: "file" }, tenantId));
    expect(Object.fromEntries(secrets)).toEqual({ N8N_ENCRYPTION_KEY: "enc-secret-1", POSTGRES_PASSWORD: "pg-secret-1" });
    expect(await stateSql(a, `select distinct key_id from server_secrets`)).toEqual([{ key_id: now.id }]);
    expect(await withDb(pg.url, (db) => metricsToken(db, { id: now.id, key: now.key, source: "file" }, serverId, { create: false }))).toBe(metrics);
    // the backup sealed by the old key opens through the keyring, and not without it
    expect(await readBackup(a, storage, key, id)).toBe("the database dump of before");
    await expect(decryptedStream(storage, key, { id: now.id, key: now.key, source: "file" }, id).then((s) => s.toArray())).rejects.toThrow(/neither the current master key/);
    // so does an age backup of before: the old key's identity is derived from it in the keyring
    expect((await checkBackup(storage, ageKey, now, ageId)).parts).toEqual([expect.objectContaining({ name: "postgres.dump", size: 22 })]);
    await expect(checkBackup(storage, ageKey, { id: now.id, key: now.key, source: "file" }, ageId)).rejects.toThrow(/none of the 1 master key/);
    // a new recovery identity; the old one, kept in the keyring, still opens the backup of before
    expect(loadRecoveryIdentity(a.dir)!.recipient).not.toBe(recoveryBefore.recipient);
    expect(loadRetiredRecoveryIdentities(a.dir).map((i) => i.recipient)).toContain(recoveryBefore.recipient);
    const opened = await buffer((await storage.get(ageKey)).pipe(ageDecryptStream({ identities: loadRetiredRecoveryIdentities(a.dir) })));
    expect(opened.subarray(0, 512).toString("latin1")).toMatch(/^backup\.json\0/);
    // tenant show: each secret's age is its value's, which a key rotation does not reset
    await stateSql(a, `update tenant_secrets set value_set_at = now() - interval '40 days' where name = 'POSTGRES_PASSWORD'`);
    const show = await a.run(["tenant", "show", "acme", "--json"]);
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { secretAges: unknown[] }).secretAges).toEqual([
      expect.objectContaining({ name: "N8N_ENCRYPTION_KEY", ageDays: 0 }),
      expect.objectContaining({ name: "POSTGRES_PASSWORD", ageDays: 40 }),
    ]);
    expect(show.stdout).not.toContain("pg-secret-1");
    const audit = (await stateSql(a, `select details from audit_log where action = 'key.rotate'`)) as Array<{ details: Record<string, unknown> }>;
    expect(JSON.stringify(audit)).not.toContain(now.key.toString("base64"));
  });

  it("an interrupted rotation (new key pending, secrets not yet re-sealed) is finished by a re-run with that same key", async () => {
    const before = loadMasterKey(a.dir, {});
    const pending = Buffer.alloc(32, 9);
    writeFileSync(join(a.dir, "master.key.next"), pending.toString("base64") + "\n", { mode: 0o600 });
    const r = await a.run(["key", "rotate", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { from: string; to: string; resumed: boolean };
    expect(out).toMatchObject({ from: before.id, resumed: true });
    expect(loadMasterKey(a.dir, {}).key.equals(pending)).toBe(true);
    const ring = readdirSync(join(a.dir, "keyring")).sort();
    expect(ring.filter((f) => f.endsWith(".key"))).toHaveLength(3);
    // each rotation kept the recovery identity it replaced
    expect(ring.filter((f) => /^recovery-[0-9a-f]{12}\.txt$/.test(f))).toHaveLength(2);
  });

  it("doctor warns about an interrupted tenant secrets rotation and names the command that finishes it", async () => {
    await stateSql(a, `insert into tenant_secrets (tenant_id, name, key_id, ciphertext) values ($1, 'POSTGRES_PASSWORD_NEXT', 'x', 'x')`, [tenantId]);
    try {
      const r = await a.run(["doctor", "--json"]);
      const checks = (JSON.parse(r.stdout) as { checks: Array<{ check: string; level: string; detail: string; fix?: string }> }).checks;
      expect(checks.find((c) => c.check === "rotations")).toMatchObject({ level: "warn", detail: "the secrets rotation of acme was interrupted", fix: "`btw tenant secrets rotate acme`" });
    } finally {
      await stateSql(a, `delete from tenant_secrets where name = 'POSTGRES_PASSWORD_NEXT'`);
    }
  });

  it("rotate refuses a key given in BTW_MASTER_KEY (exit 2, nothing changed)", async () => {
    const cur = readFileSync(join(a.dir, "master.key"), "utf8").trim();
    const r = await a.run(["key", "rotate", "--yes"], { env: { BTW_MASTER_KEY: cur } });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).not.toContain(cur);
    expect(readFileSync(join(a.dir, "master.key"), "utf8").trim()).toBe(cur);
  });
});
