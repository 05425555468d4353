import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackupStorage } from "../../../src/remote/backup-storage.js";
import { DirStorage } from "../../../src/remote/backup-dir.js";
import { S3Storage } from "../../../src/remote/backup-s3.js";
import { startFakeS3, type FakeS3 } from "./fake-s3.js";

// The storage contract, for a directory and for S3 (s3rver on loopback): an object exists
// only once put() resolved; a failed or aborted put leaves nothing, not even parts.

/** `total` bytes in 256 KiB pieces; fails after `failAt` bytes when given. */
function source(total: number, opts: { failAt?: number; seed?: number } = {}): Readable {
  let sent = 0;
  const piece = randomBytes(256 * 1024);
  return new Readable({
    read() {
      if (opts.failAt !== undefined && sent >= opts.failAt) return void this.destroy(new Error("source broke"));
      if (sent >= total) return void this.push(null);
      const n = Math.min(piece.length, total - sent);
      sent += n;
      this.push(piece.subarray(0, n));
    },
  });
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function contract(name: string, make: () => Promise<{ storage: BackupStorage; partials: () => Promise<string[]>; crashLeftover: (key: string) => Promise<void> }>) {
  describe(name, () => {
    let s: Awaited<ReturnType<typeof make>>;
    beforeAll(async () => {
      s = await make();
    });
    afterAll(async () => {
      await s?.storage.close();
    });

    it("stores a multi-part stream and gives back the same bytes; keyOf(location) is the key", async () => {
      const data = await buffer(source(20 * 1024 * 1024 + 123));
      await s.storage.put("acme/one.btwb", Readable.from([data]));
      const back = await buffer(await s.storage.get("acme/one.btwb"));
      expect(sha(back)).toBe(sha(data));
      expect(s.storage.keyOf(s.storage.location("acme/one.btwb"))).toBe("acme/one.btwb");
      expect(await s.partials()).toEqual([]);
    });

    it("list gives the complete objects' keys under a prefix, never a partial one", async () => {
      await s.storage.put("lst/a.btwb", Readable.from([Buffer.from("a")]));
      await s.storage.put("lst/sub/b.btwb", Readable.from([Buffer.from("b")]));
      await s.storage.put("lst2/c.btwb", Readable.from([Buffer.from("c")]));
      await s.crashLeftover("lst/partial.btwb");
      expect(await s.storage.list("lst/")).toEqual(["lst/a.btwb", "lst/sub/b.btwb"]);
      expect(await s.storage.list()).toEqual(expect.arrayContaining(["lst/a.btwb", "lst/sub/b.btwb", "lst2/c.btwb"]));
      expect(await s.storage.list()).not.toContain("lst/partial.btwb");
      for (const k of ["lst/a.btwb", "lst/sub/b.btwb", "lst2/c.btwb"]) await s.storage.delete(k);
      await s.storage.removePartial("lst/partial.btwb");
    });

    it("a source that breaks mid-upload leaves no object and no partial", async () => {
      await expect(s.storage.put("acme/broken.btwb", source(30 * 1024 * 1024, { failAt: 12 * 1024 * 1024 }))).rejects.toThrow();
      await expect(s.storage.get("acme/broken.btwb").then(buffer)).rejects.toThrow();
      expect(await s.partials()).toEqual([]);
    });

    it("an abort mid-upload leaves no object and no partial", async () => {
      const ac = new AbortController();
      const src = source(64 * 1024 * 1024);
      let seen = 0;
      src.on("data", (c: Buffer) => {
        seen += c.length;
        if (seen > 10 * 1024 * 1024) ac.abort();
      });
      await expect(s.storage.put("acme/aborted.btwb", src, { signal: ac.signal })).rejects.toThrow();
      await expect(s.storage.get("acme/aborted.btwb").then(buffer)).rejects.toThrow();
      expect(await s.partials()).toEqual([]);
    });

    it("removePartial clears what a crashed put left, and delete is idempotent", async () => {
      await s.crashLeftover("acme/crashed.btwb");
      expect(await s.partials()).not.toEqual([]);
      await s.storage.removePartial("acme/crashed.btwb");
      expect(await s.partials()).toEqual([]);
      await s.storage.delete("acme/one.btwb");
      await s.storage.delete("acme/one.btwb");
      await expect(s.storage.get("acme/one.btwb").then(buffer)).rejects.toThrow(/does not exist/);
    });
  });
}

const dirRoot = mkdtempSync(join(tmpdir(), "btw-backups-"));
afterAll(() => rmSync(dirRoot, { recursive: true, force: true }));
contract("dir storage", async () => {
  const storage = new DirStorage(dirRoot);
  return {
    storage,
    partials: () => storage.listPartials(),
    crashLeftover: async (key) => {
      mkdirSync(join(dirRoot, "acme"), { recursive: true });
      writeFileSync(join(dirRoot, `${key}.partial`), "half");
    },
  };
});

let fake: FakeS3;
afterAll(() => fake?.close());
contract("S3 storage (s3rver on loopback)", async () => {
  fake = await startFakeS3();
  const storage = await S3Storage.fromConfig(
    { type: "s3", endpoint: fake.endpoint, region: "us-east-1", bucket: fake.bucket, prefix: "btw/", forcePathStyle: true },
    { BTW_S3_ACCESS_KEY_ID: fake.accessKeyId, BTW_S3_SECRET_ACCESS_KEY: fake.secretAccessKey },
  );
  const { S3Client, CreateMultipartUploadCommand, UploadPartCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({ region: "us-east-1", endpoint: fake.endpoint, forcePathStyle: true, credentials: { accessKeyId: fake.accessKeyId, secretAccessKey: fake.secretAccessKey } });
  return {
    storage,
    partials: async () => [...(await fake.pendingUploads()), ...(await storage.listPartials()).map((k) => `listed:${k}`)].filter((k, i, a) => a.indexOf(k) === i),
    crashLeftover: async (key) => {
      const up = await client.send(new CreateMultipartUploadCommand({ Bucket: fake.bucket, Key: `btw/${key}` }));
      await client.send(new UploadPartCommand({ Bucket: fake.bucket, Key: `btw/${key}`, UploadId: up.UploadId!, PartNumber: 1, Body: randomBytes(5 * 1024 * 1024) }));
    },
  };
});
