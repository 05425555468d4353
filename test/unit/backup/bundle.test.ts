import { createHash, randomBytes } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { readBundle, writeBundle, type PartSink } from "../../../src/core/backup/bundle.js";
import { BACKUP_FORMAT, type BackupManifest, type BackupStart } from "../../../src/core/backup/manifest.js";

const start: BackupStart = {
  format: BACKUP_FORMAT,
  id: "acme-20260101T020000Z-abcd",
  tenant: "acme",
  createdAt: "2026-01-01T02:00:00.000Z",
  server: "s1",
  plan: "pro",
  timezone: "UTC",
  n8nVersion: "2.8.4",
  images: { n8n: "n8n:2.8.4", postgres: "pg:17", redis: "redis:7" },
};

const manifestOf = (parts: BackupManifest["parts"]): BackupManifest => ({
  ...start,
  finishedAt: "2026-01-01T02:01:00.000Z",
  parts,
  counts: { workflows: 3, credentials: 1, executions: 10 },
  escrow: { keyId: "k", sealed: "v1.x", names: ["N8N_ENCRYPTION_KEY"] },
});

async function bundleOf(parts: Record<string, Buffer>): Promise<Buffer> {
  return buffer(
    Readable.from(
      writeBundle(
        start,
        Object.entries(parts).map(([name, data]) => ({ name, open: async () => Readable.from([data.subarray(0, 10), data.subarray(10)]) })),
        manifestOf,
      ),
    ),
  );
}

function collector(): PartSink & { data: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => stream.on("end", () => r()));
  return { stream, done: () => ended, data: () => Buffer.concat(chunks) };
}

describe("bundle", () => {
  it("carries named parts and a manifest with each part's size and sha256", async () => {
    const db = randomBytes(3 * 1024 * 1024 + 17);
    const tar = randomBytes(5000);
    const bytes = await bundleOf({ "postgres.dump": db, "n8n-data.tar": tar });
    const sinks: Record<string, ReturnType<typeof collector>> = {};
    let seenStart: BackupStart | null = null;
    const m = await readBundle(Readable.from([bytes]), {
      onStart: (s) => void (seenStart = s),
      onPart: (name) => (sinks[name] = collector()),
    });
    expect(seenStart).toEqual(start);
    expect(sinks["postgres.dump"]!.data().equals(db)).toBe(true);
    expect(sinks["n8n-data.tar"]!.data().equals(tar)).toBe(true);
    expect(m.parts).toEqual([
      { name: "postgres.dump", size: db.length, sha256: createHash("sha256").update(db).digest("hex") },
      { name: "n8n-data.tar", size: tar.length, sha256: createHash("sha256").update(tar).digest("hex") },
    ]);
    expect(m.counts.workflows).toBe(3);
  });

  it("refuses a bundle cut before its manifest", async () => {
    const bytes = await bundleOf({ a: randomBytes(100) });
    await expect(readBundle(Readable.from([bytes.subarray(0, bytes.length - 30)]), { onPart: () => null })).rejects.toThrow(/inconsistent/);
  });

  it("refuses a part whose bytes do not match its end record", async () => {
    const bytes = Buffer.from(await bundleOf({ a: Buffer.alloc(100, 1) }));
    const at = bytes.indexOf(Buffer.alloc(50, 1));
    bytes[at] = 2;
    await expect(readBundle(Readable.from([bytes]), { onPart: () => null })).rejects.toThrow(/part a: size\/sha256/);
  });

  it("surfaces a producer failure (e.g. pg_dump exiting non-zero) instead of a manifest", async () => {
    const gen = writeBundle(start, [{ name: "a", open: async () => Readable.from([Buffer.from("x")]), finished: async () => Promise.reject(new Error("pg_dump exited 1")) }], manifestOf);
    await expect(buffer(Readable.from(gen))).rejects.toThrow(/pg_dump exited 1/);
  });
});
