import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PartSource } from "../../../src/core/backup/bundle.js";
import { BACKUP_FORMAT, backupId, backupKey, type BackupManifest, type BackupStart } from "../../../src/core/backup/manifest.js";
import { writeBackupObject } from "../../../src/ops/backup/object.js";
import { checkBackup } from "../../../src/ops/backup/restore-data.js";
import { DirStorage } from "../../../src/remote/backup-dir.js";
import { createMasterKeyFile, loadMasterKey } from "../../../src/secrets/master-key.js";
import { backupRecipients, recoveryIdentityPath } from "../../../src/secrets/recovery-identity.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// The README's "Restoring a tenant without btw", run as written: a backup object made by
// btw's own writer (a real pg_dump of a real database with rows, and a tar of n8n-like
// files) is opened with standard tools only — age, tar, cat, pg_restore — and nothing of btw
// on that path. The rows and the files come back, and so does N8N_ENCRYPTION_KEY.

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A process's stdout as a backup part; finished() fails when it exits non-zero (like pg_dump's). */
function processPart(name: string, cmd: string, args: string[]): PartSource {
  let exited: Promise<void> = Promise.resolve();
  return {
    name,
    open: async () => {
      const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      p.stderr.on("data", (c: Buffer) => (err += c.toString()));
      exited = new Promise((resolve, reject) => p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`)))));
      return p.stdout;
    },
    finished: () => exited,
  };
}

async function rows(url: string, sql: string): Promise<unknown[]> {
  const { default: pg } = await import("pg");
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe("restoring a tenant without btw (README procedure, standard tools only)", () => {
  let source: TestDatabase;
  let target: TestDatabase;
  let work: string;
  const files: Record<string, Buffer> = {
    ".n8n/config": Buffer.from(JSON.stringify({ encryptionKey: "from-the-config-file" })),
    ".n8n/nodes/package.json": Buffer.from('{"name":"installed-nodes","dependencies":{}}\n'),
    ".n8n/binaryData/execution-7/blob.bin": randomBytes(3 * 1024 * 1024 + 5),
  };
  const encryptionKey = randomBytes(24).toString("base64");

  beforeAll(async () => {
    source = await createTestDatabase();
    target = await createTestDatabase();
    work = mkdtempSync(join(tmpdir(), "btw-no-btw-"));
    await rows(
      source.url,
      `create table workflow_entity (id text primary key, name text not null, nodes jsonb, "createdAt" timestamptz default now());
       create table credentials_entity (id text primary key, name text, data text);
       insert into workflow_entity (id, name, nodes) select 'wf' || g, 'Workflow ' || g || ' — é', jsonb_build_object('n', g) from generate_series(1, 250) g;
       insert into credentials_entity values ('c1', 'OpenAI', 'U2FsdGVkX1+ciphertext');`,
    );
  });
  afterAll(async () => {
    await source?.drop();
    await target?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("age -d with the recovery identity, tar, cat, pg_restore give back the rows, the files and the encryption key", async () => {
    // ---- btw's side: a home with a master key and a recovery identity, a backup written ----
    const home = join(work, "btw-home");
    createMasterKeyFile(home);
    const master = loadMasterKey(home, {});
    const { recipients } = backupRecipients(master, home, {});
    const dataRoot = join(work, "node-home");
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(join(dataRoot, rel, ".."), { recursive: true });
      writeFileSync(join(dataRoot, rel), data);
    }
    const storageDir = join(work, "storage");
    const storage = new DirStorage(storageDir);
    const id = backupId("acme", new Date(), "c0ffee");
    const key = backupKey("acme", id);
    const start: BackupStart = { format: BACKUP_FORMAT, id, tenant: "acme", createdAt: new Date().toISOString(), server: "fsn1-1", plan: "pro", timezone: "UTC", n8nVersion: "2.8.4", images: { n8n: "n8nio/n8n:2.8.4", postgres: "postgres:15", redis: "redis:7" } };
    const written = await writeBackupObject({
      storage,
      key,
      start,
      secrets: new Map([["N8N_ENCRYPTION_KEY", encryptionKey], ["POSTGRES_PASSWORD", "pg-pass"]]),
      parts: [processPart("postgres.dump", "pg_dump", ["--format=custom", "--compress=1", "-d", source.url]), processPart("n8n-data.tar", "tar", ["-C", dataRoot, "-cf", "-", ".n8n"])],
      finish: (parts): BackupManifest => ({ ...start, finishedAt: new Date().toISOString(), parts, counts: { workflows: 250, credentials: 1, executions: null }, escrow: { keyId: master.id, sealed: "not-used-here", names: ["N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD"] } }),
      recipients,
    });
    const object = join(storageDir, key);
    expect(statSync(object).size).toBe(written.sizeBytes);
    // btw itself still reads what it wrote (the master key's recipient)
    expect((await checkBackup(storage, key, master, id)).parts.map((p) => p.name)).toEqual(["postgres.dump", "n8n-data.tar"]);

    // ---- the README's procedure: standard tools only from here ----
    const r = join(work, "restore");
    mkdirSync(r);
    const identity = join(r, "recovery.txt");
    writeFileSync(identity, readFileSync(recoveryIdentityPath(home)), { mode: 0o600 });
    run("cp", [object, join(r, "backup.age")]);
    // 1. decrypt with the recovery identity; 2. unpack
    run("age", ["--decrypt", "--identity", identity, "--output", "backup.tar", "backup.age"], { cwd: r });
    mkdirSync(join(r, "backup"));
    run("tar", ["-xf", "backup.tar", "-C", "backup"], { cwd: r });
    expect(readdirSync(join(r, "backup")).sort()).toEqual(["backup.json", "manifest.json", "n8n-data.tar", "postgres.dump", "secrets.env"]);
    // 3. join the pieces, check them against manifest.json
    run("sh", ["-c", 'cat backup/postgres.dump/* > postgres.dump && cat backup/n8n-data.tar/* > n8n-data.tar'], { cwd: r });
    const manifest = JSON.parse(readFileSync(join(r, "backup", "manifest.json"), "utf8")) as BackupManifest;
    for (const p of manifest.parts) expect(run("sha256sum", [p.name], { cwd: r }).split(" ")[0], p.name).toBe(p.sha256);
    // 4. the database
    run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "-d", target.url, "postgres.dump"], { cwd: r });
    // 5. the n8n files
    mkdirSync(join(r, "n8n-home"));
    run("tar", ["-xf", "n8n-data.tar", "-C", "n8n-home"], { cwd: r });
    // 6. the encryption key n8n's credentials need
    const env = readFileSync(join(r, "backup", "secrets.env"), "utf8");

    // ---- what came back ----
    const q = `select (select count(*)::int from workflow_entity) as wf, (select string_agg(id || ':' || name || ':' || nodes::text, ',' order by id) from workflow_entity) as names, (select data from credentials_entity where id = 'c1') as cred`;
    expect(await rows(target.url, q)).toEqual(await rows(source.url, q));
    expect((await rows(target.url, q))[0]).toMatchObject({ wf: 250, cred: "U2FsdGVkX1+ciphertext" });
    for (const [rel, data] of Object.entries(files)) expect(readFileSync(join(r, "n8n-home", rel)).equals(data), rel).toBe(true);
    expect(env).toContain(`N8N_ENCRYPTION_KEY=${encryptionKey}\n`);
  }, 120_000);
});
