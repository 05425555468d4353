import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { readBundle, writeBundle } from "../../../src/core/backup/bundle.js";
import { decryptStream, encryptStream } from "../../../src/core/backup/crypto-stream.js";
import { BACKUP_FORMAT, type BackupManifest, type BackupStart } from "../../../src/core/backup/manifest.js";
import { DirStorage } from "../../../src/remote/backup-dir.js";
import { open, seal } from "../../../src/secrets/envelope.js";
import { keyId, type MasterKey } from "../../../src/secrets/master-key.js";
import { writeBackupObject } from "../../../src/ops/backup/object.js";
import { readBackupObject } from "../../../src/ops/backup/restore-data.js";
import { backupRecipients } from "../../../src/secrets/recovery-identity.js";

// The whole client side of a backup — bundle, encryption, directory storage — and back, on
// 384 MiB of parts: memory must stay flat (bounded by chunk sizes), not grow with the data.

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), "btw-pipeline-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function synthetic(bytes: number): Readable {
  const block = randomBytes(MiB);
  let sent = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= bytes) return void this.push(null);
      const n = Math.min(block.length, bytes - sent);
      sent += n;
      this.push(block.subarray(0, n));
    },
  });
}

function rssSampler() {
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  return { stop: () => (clearInterval(t), (peak - base) / MiB) };
}

describe("backup pipeline at size", () => {
  it("writes and reads back 384 MiB with flat memory", async () => {
    const key = randomBytes(32);
    const m: MasterKey = { id: keyId(key), key, source: "BTW_MASTER_KEY" };
    const start: BackupStart = { format: BACKUP_FORMAT, id: "big-20260101T000000Z-abcd", tenant: "big", createdAt: new Date().toISOString(), server: "s", plan: "pro", timezone: "UTC", n8nVersion: null, images: { n8n: null, postgres: null, redis: null } };
    const storage = new DirStorage(root);
    const sizes = { "postgres.dump": 256 * MiB, "n8n-data.tar": 128 * MiB };
    if (global.gc) global.gc();
    const w = rssSampler();
    const bundle = Readable.from(
      writeBundle(
        start,
        Object.entries(sizes).map(([name, n]) => ({ name, open: async () => synthetic(n) })),
        (parts): BackupManifest => ({ ...start, finishedAt: new Date().toISOString(), parts, counts: { workflows: null, credentials: null, executions: null }, escrow: { keyId: m.id, sealed: "x", names: [] } }),
      ),
    );
    await storage.put("big/b.btwb", bundle.pipe(encryptStream({ backupId: start.id, tenant: "big", keyId: m.id, wrapKey: (k) => seal(m, "dk", k) })));
    const writeGrowth = w.stop();
    expect(statSync(join(root, "big/b.btwb")).size).toBeGreaterThan(384 * MiB);

    const r = rssSampler();
    const got: Record<string, number> = {};
    const manifest = await readBundle((await storage.get("big/b.btwb")).pipe(decryptStream({ unwrapKey: (wk) => open(m, "dk", wk) })), {
      onPart: (name) => {
        got[name] = 0;
        const stream = new Writable({ write: (c: Buffer, _e, cb) => ((got[name]! += c.length), cb()) });
        return { stream, done: () => new Promise<void>((res) => (stream.writableFinished ? res() : stream.once("finish", () => res()))) };
      },
    });
    const readGrowth = r.stop();
    expect(got).toEqual(sizes);
    expect(manifest.parts.map((p) => p.size)).toEqual(Object.values(sizes));
    console.log(`RSS growth: write ${writeGrowth.toFixed(0)} MiB, read ${readGrowth.toFixed(0)} MiB for 384 MiB of data`);
    expect(writeGrowth).toBeLessThan(96);
    expect(readGrowth).toBeLessThan(96);
  }, 120_000);

  it("the age format (age around a tar) writes and reads back 384 MiB with flat memory too", async () => {
    const key = randomBytes(32);
    const m: MasterKey = { id: keyId(key), key, source: "BTW_MASTER_KEY" };
    const start: BackupStart = { format: BACKUP_FORMAT, id: "big-20260101T000000Z-abce", tenant: "big", createdAt: new Date().toISOString(), server: "s", plan: "pro", timezone: "UTC", n8nVersion: null, images: { n8n: null, postgres: null, redis: null } };
    const storage = new DirStorage(root);
    const sizes = { "postgres.dump": 256 * MiB, "n8n-data.tar": 128 * MiB };
    if (global.gc) global.gc();
    const w = rssSampler();
    await writeBackupObject({
      storage,
      key: "big/age.btwb",
      start,
      secrets: new Map([["N8N_ENCRYPTION_KEY", "k"]]),
      parts: Object.entries(sizes).map(([name, n]) => ({ name, open: async () => synthetic(n) })),
      finish: (parts): BackupManifest => ({ ...start, finishedAt: new Date().toISOString(), parts, counts: { workflows: null, credentials: null, executions: null }, escrow: { keyId: m.id, sealed: "x", names: [] } }),
      recipients: backupRecipients(m, join(root, "home"), {}).recipients,
    });
    const writeGrowth = w.stop();
    expect(statSync(join(root, "big/age.btwb")).size).toBeGreaterThan(384 * MiB);

    const r = rssSampler();
    const got: Record<string, number> = {};
    const manifest = await readBackupObject(storage, "big/age.btwb", m, start.id, (name) => {
      got[name] = 0;
      const stream = new Writable({ write: (c: Buffer, _e, cb) => ((got[name]! += c.length), cb()) });
      return { stream, done: () => new Promise<void>((res) => (stream.writableFinished ? res() : stream.once("finish", () => res()))) };
    });
    const readGrowth = r.stop();
    expect(got).toEqual(sizes);
    expect(manifest.parts.map((p) => p.size)).toEqual(Object.values(sizes));
    console.log(`age format RSS growth: write ${writeGrowth.toFixed(0)} MiB, read ${readGrowth.toFixed(0)} MiB for 384 MiB of data`);
    expect(writeGrowth).toBeLessThan(96);
    expect(readGrowth).toBeLessThan(96);
  }, 180_000);
});
