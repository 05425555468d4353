import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { BackupIntegrityError, decryptStream, encryptStream, parseHeader } from "../../../src/core/backup/crypto-stream.js";
import { open, seal } from "../../../src/secrets/envelope.js";
import { keyId, type MasterKey } from "../../../src/secrets/master-key.js";

const mk = (): MasterKey => {
  const key = randomBytes(32);
  return { id: keyId(key), key, source: "BTW_MASTER_KEY" };
};

async function encrypt(m: MasterKey, plain: Buffer, chunkSize = 1000, pieces = 7): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < plain.length; i += pieces) parts.push(plain.subarray(i, i + pieces * 13));
  const src = Readable.from(plain.length ? chunksOf(plain, 333) : [], { objectMode: false });
  return buffer(src.pipe(encryptStream({ backupId: "b1", tenant: "acme", keyId: m.id, wrapKey: (k) => seal(m, "ctx", k), chunkSize })));
}

function chunksOf(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
}

async function decrypt(m: MasterKey, data: Buffer, piece = 97): Promise<Buffer> {
  return buffer(Readable.from(chunksOf(data, piece)).pipe(decryptStream({ unwrapKey: (w) => open(m, "ctx", w) })));
}

describe("btwb encrypted stream", () => {
  it("round-trips data of any size, in pieces of any size", async () => {
    const m = mk();
    for (const size of [0, 1, 999, 1000, 1001, 5000, 12_345]) {
      const plain = randomBytes(size);
      const enc = await encrypt(m, plain);
      expect((await decrypt(m, enc, 1 + (size % 50))).equals(plain), `size ${size}`).toBe(true);
    }
  });

  it("never contains the plaintext, and names the backup and key in a readable header", async () => {
    const m = mk();
    const plain = Buffer.from("the-secret-marker ".repeat(200));
    const enc = await encrypt(m, plain);
    expect(enc.includes(Buffer.from("the-secret-marker"))).toBe(false);
    expect(parseHeader(enc)).toMatchObject({ v: 1, alg: "AES-256-GCM", backupId: "b1", tenant: "acme", keyId: m.id });
  });

  it("refuses a flipped byte anywhere: header, frame or ciphertext", async () => {
    const m = mk();
    const enc = await encrypt(m, randomBytes(4000));
    for (const at of [3, 20, enc.length - 1, Math.floor(enc.length / 2), enc.length - 20]) {
      const bad = Buffer.from(enc);
      bad[at] = bad[at]! ^ 0x01;
      await expect(decrypt(m, bad), `byte ${at}`).rejects.toThrow();
    }
    const bad = Buffer.from(enc);
    bad[Math.floor(enc.length / 2)]! ^= 0x80;
    await expect(decrypt(m, bad)).rejects.toBeInstanceOf(BackupIntegrityError);
    await expect(decrypt(m, bad)).rejects.toThrow(/failed authentication|damaged/);
  });

  it("refuses truncation, even at a chunk boundary", async () => {
    const m = mk();
    const enc = await encrypt(m, randomBytes(3000), 1000);
    const header = enc.readUInt32BE(8) + 12;
    const frame = 5 + 1000 + 16;
    for (const cut of [enc.length - 1, header + frame, header + 2 * frame, header, 10]) {
      await expect(decrypt(m, enc.subarray(0, cut)), `cut at ${cut}`).rejects.toThrow(/truncated/);
    }
  });

  it("refuses data appended after the final chunk, and reordered chunks", async () => {
    const m = mk();
    const enc = await encrypt(m, randomBytes(3000), 1000);
    await expect(decrypt(m, Buffer.concat([enc, Buffer.from("x")]))).rejects.toThrow(/after the final chunk/);
    const header = enc.readUInt32BE(8) + 12;
    const frame = 5 + 1000 + 16;
    const a = enc.subarray(header, header + frame);
    const b = enc.subarray(header + frame, header + 2 * frame);
    const swapped = Buffer.concat([enc.subarray(0, header), b, a, enc.subarray(header + 2 * frame)]);
    await expect(decrypt(m, swapped)).rejects.toThrow(/chunk 0 failed authentication/);
  });

  it("refuses another master key with the envelope's clear message", async () => {
    const enc = await encrypt(mk(), randomBytes(100));
    await expect(decrypt(mk(), enc)).rejects.toThrow(/sealed with master key/);
  });

  it("gives a fresh data key and nonce per backup", async () => {
    const m = mk();
    const plain = Buffer.alloc(2000, 7);
    const a = await encrypt(m, plain);
    const b = await encrypt(m, plain);
    expect(a.subarray(a.length - 100).equals(b.subarray(b.length - 100))).toBe(false);
  });
});
