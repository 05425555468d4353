import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { readBundle, writeBundle } from "../src/core/backup/bundle.js";
import { encryptStream } from "../src/core/backup/crypto-stream.js";
import { BACKUP_FORMAT, dataKeyContext, type BackupManifest, type BackupStart } from "../src/core/backup/manifest.js";
import { writeBackupObject } from "../src/ops/backup/object.js";
import { checkBackup, decryptedStream } from "../src/ops/backup/restore-data.js";
import { DirStorage } from "../src/remote/backup-dir.js";
import { seal } from "../src/secrets/envelope.js";
import { keyId, type MasterKey } from "../src/secrets/master-key.js";
import { backupRecipients } from "../src/secrets/recovery-identity.js";

// The two backup containers on the same payload, local disk, this process only: btwb (btw's
// own AES-256-GCM chunks around its record bundle, before) and age around a tar (now). Write
// = the writer into a dir storage; read = the check every restore/verify/import does (decrypt
// everything, hash every part). Random bytes, so compression plays no part.
//
//   npx tsx bench/backup-format.ts            BENCH_MB=100 BENCH_RUNS=3

const MB = Number(process.env.BENCH_MB ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const block = randomBytes(1024 * 1024);
const payload = () =>
  Readable.from(
    (function* () {
      for (let i = 0; i < MB; i++) yield block;
    })(),
  );

const key = randomBytes(32);
const master: MasterKey = { id: keyId(key), key, source: "file" };
const home = mkdtempSync(join(tmpdir(), "btw-bench-fmt-"));
const storage = new DirStorage(join(home, "storage"));
const start = (id: string): BackupStart => ({ format: BACKUP_FORMAT, id, tenant: "bench", createdAt: new Date().toISOString(), server: "s", plan: "pro", timezone: "UTC", n8nVersion: null, images: { n8n: null, postgres: null, redis: null } });
const finish = (s: BackupStart) => (parts: BackupManifest["parts"]): BackupManifest => ({ ...s, finishedAt: new Date().toISOString(), parts, counts: { workflows: null, credentials: null, executions: null }, escrow: { keyId: master.id, sealed: "x", names: [] } });

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const rows: string[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const oldId = `bench-20260101T000000Z-00${run}a`;
    const s1 = start(oldId);
    const wOld = await time(() => storage.put(`bench/${oldId}.btwb`, Readable.from(writeBundle(s1, [{ name: "postgres.dump", open: async () => payload() }], finish(s1))).pipe(encryptStream({ backupId: oldId, tenant: "bench", keyId: master.id, wrapKey: (k) => seal(master, dataKeyContext(oldId), k) }))));
    const rOld = await time(async () => readBundle(await decryptedStream(storage, `bench/${oldId}.btwb`, master, oldId), { onPart: () => null }));
    const newId = `bench-20260101T000000Z-00${run}b`;
    const s2 = start(newId);
    const wNew = await time(() => writeBackupObject({ storage, key: `bench/${newId}.btwb`, start: s2, secrets: new Map(), parts: [{ name: "postgres.dump", open: async () => payload() }], finish: finish(s2), recipients: backupRecipients(master, home, {}).recipients }));
    const rNew = await time(() => checkBackup(storage, `bench/${newId}.btwb`, master, newId));
    rows.push(`run ${run + 1}: btwb write ${(MB / wOld).toFixed(0)} MB/s read ${(MB / rOld).toFixed(0)} MB/s | age+tar write ${(MB / wNew).toFixed(0)} MB/s read ${(MB / rNew).toFixed(0)} MB/s`);
    await storage.delete(`bench/${oldId}.btwb`);
    await storage.delete(`bench/${newId}.btwb`);
  }
  console.log(`payload ${MB} MiB, node ${process.version}\n${rows.join("\n")}`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
