import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBundle } from "../../../src/core/backup/bundle.js";
import { encryptStream } from "../../../src/core/backup/crypto-stream.js";
import { BACKUP_FORMAT, dataKeyContext, escrowContext, type BackupManifest, type BackupStart } from "../../../src/core/backup/manifest.js";
import { writeBackupObject } from "../../../src/ops/backup/object.js";
import { DirStorage } from "../../../src/remote/backup-dir.js";
import { backupRecipients } from "../../../src/secrets/recovery-identity.js";
import { seal } from "../../../src/secrets/envelope.js";
import { loadMasterKey } from "../../../src/secrets/master-key.js";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// `btw backup import`: a state that has none of the rows (a fresh machine) rebuilds its
// catalogue from the storage alone; a damaged object is reported, not imported.
describe("backup import (pg state, dir storage)", () => {
  let pg: TestDatabase;
  let home: BtwHome;
  let dir: string;
  let fragment: string;

  async function writeBackup(tenant: string, id: string, body: string): Promise<string> {
    const master = loadMasterKey(home.dir, {});
    const start: BackupStart = { format: BACKUP_FORMAT, id, tenant, createdAt: "2026-01-02T03:04:05.000Z", server: "fsn1-1", plan: "starter", timezone: "UTC", n8nVersion: "2.8.4", images: { n8n: "n8n:2.8.4", postgres: "postgres:17", redis: "redis:7" } };
    const bundle = Readable.from(
      writeBundle(start, [{ name: "postgres.dump", open: async () => Readable.from([Buffer.from(body)]) }], (parts): BackupManifest => ({
        ...start,
        finishedAt: "2026-01-02T03:05:00.000Z",
        parts,
        counts: { workflows: 3, credentials: 2, executions: 1 },
        escrow: { keyId: master.id, sealed: seal(master, escrowContext(id), JSON.stringify({ N8N_ENCRYPTION_KEY: "k" })), names: ["N8N_ENCRYPTION_KEY"] },
      })),
    );
    const key = `${tenant}/${id}.btwb`;
    await new DirStorage(dir).put(key, bundle.pipe(encryptStream({ backupId: id, tenant, keyId: master.id, wrapKey: (k) => seal(master, dataKeyContext(id), k) })));
    return join(dir, key);
  }

  beforeAll(async () => {
    pg = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), "btw-import-"));
    fragment = `${dir}.yml`;
    writeFileSync(fragment, `backup:\n  storage:\n    type: dir\n    path: ${dir}\n`);
    home = tempHome({ BTW_DATABASE_URL: pg.url });
    const init = await home.run(["init", "--domain", "example.com", "--tls", "off", "--merge", fragment]);
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(async () => {
    home?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    rmSync(fragment, { force: true });
    await pg?.drop();
  });

  it("records every object the state lacks, with the size, sha256 and manifest a backup run would have; a re-run imports nothing", async () => {
    const a = await writeBackup("acme", "acme-20260102T030405Z-a1b2c3", "dump of acme");
    await writeBackup("beta", "beta-20260102T030405Z-d4e5f6", "dump of beta");
    writeFileSync(join(dir, "stray.txt"), "not a backup");

    const dry = await home.run(["backup", "import", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as { imported: unknown[] }).imported).toHaveLength(2);
    expect(await stateSql(home, "select id from backups")).toEqual([]);

    const one = await home.run(["backup", "import", "--tenant", "acme", "--json"]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ imported: [{ id: "acme-20260102T030405Z-a1b2c3", tenant: "acme" }], failed: [] });
    const row = ((await stateSql(home, "select id, tenant_slug, location, status, size_bytes, sha256, n8n_version, created_at, manifest from backups")) as Array<Record<string, unknown>>)[0]!;
    const raw = readFileSync(a);
    expect(row).toMatchObject({ id: "acme-20260102T030405Z-a1b2c3", tenant_slug: "acme", location: a, status: "done", n8n_version: "2.8.4" });
    expect(Number(row.size_bytes)).toBe(raw.length);
    expect(row.sha256).toBe(createHash("sha256").update(raw).digest("hex"));
    expect(new Date(row.created_at as string).toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect((row.manifest as { counts: unknown }).counts).toEqual({ workflows: 3, credentials: 2, executions: 1 });

    const all = await home.run(["backup", "import", "--json"]);
    expect(JSON.parse(all.stdout)).toMatchObject({ imported: [{ tenant: "beta" }], known: 1 });
    const again = await home.run(["backup", "import", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: [], known: 2 });
    const list = await home.run(["backup", "list", "--json"]);
    expect((JSON.parse(list.stdout) as { backups: unknown[] }).backups).toHaveLength(2);
  });

  it("an age object (what btw writes now) is imported like an older one: the rows from its manifest", async () => {
    const master = loadMasterKey(home.dir, {});
    const id = "delta-20260103T030405Z-b1b2b3";
    const start: BackupStart = { format: BACKUP_FORMAT, id, tenant: "delta", createdAt: "2026-01-03T03:04:05.000Z", server: "fsn1-1", plan: "pro", timezone: "UTC", n8nVersion: "2.8.4", images: { n8n: "n8n:2.8.4", postgres: "postgres:17", redis: "redis:7" } };
    await writeBackupObject({
      storage: new DirStorage(dir),
      key: `delta/${id}.btwb`,
      start,
      secrets: new Map([["N8N_ENCRYPTION_KEY", "k"]]),
      parts: [{ name: "postgres.dump", open: async () => Readable.from([Buffer.from("dump of delta")]) }],
      finish: (parts): BackupManifest => ({ ...start, finishedAt: "2026-01-03T03:05:00.000Z", parts, counts: { workflows: 4, credentials: 1, executions: 0 }, escrow: { keyId: master.id, sealed: seal(master, escrowContext(id), JSON.stringify({ N8N_ENCRYPTION_KEY: "k" })), names: ["N8N_ENCRYPTION_KEY"] } }),
      recipients: backupRecipients(master, home.dir, {}).recipients,
    });
    const raw = readFileSync(join(dir, "delta", `${id}.btwb`));
    expect(raw.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
    const r = await home.run(["backup", "import", "--tenant", "delta", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ imported: [{ id, tenant: "delta" }], failed: [] });
    const row = ((await stateSql(home, "select size_bytes, sha256, n8n_version, created_at, manifest from backups where id = $1", [id])) as Array<Record<string, unknown>>)[0]!;
    expect(Number(row.size_bytes)).toBe(raw.length);
    expect(row.sha256).toBe(createHash("sha256").update(raw).digest("hex"));
    expect(new Date(row.created_at as string).toISOString()).toBe("2026-01-03T03:04:05.000Z");
    expect((row.manifest as { counts: unknown; escrow: { names: string[] } })).toMatchObject({ counts: { workflows: 4, credentials: 1, executions: 0 }, escrow: { names: ["N8N_ENCRYPTION_KEY"] } });
  });

  it("a damaged object is reported (exit 3) and not recorded; a bad --tenant is exit 2", async () => {
    const p = await writeBackup("gamma", "gamma-20260102T030405Z-aaaaaa", "dump of gamma");
    const bytes = readFileSync(p);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 40) ^ 0xff, bytes.length - 40);
    writeFileSync(p, bytes);
    const r = await home.run(["backup", "import", "--json"]);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ imported: [], failed: [{ key: "gamma/gamma-20260102T030405Z-aaaaaa.btwb" }] });
    expect(await stateSql(home, "select id from backups where tenant_slug = 'gamma'")).toEqual([]);
    expect((await home.run(["backup", "import", "--tenant", "Bad_Name"])).code).toBe(2);
  });
});
