import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { BtwError, ExitCode } from "../../errors.js";
import { ByteQueue } from "./byte-queue.js";

// The encrypted container of a backup ("btwb", version 1). Streaming AES-256-GCM: the
// plaintext is cut into chunks of at most `chunkSize` bytes, each sealed on its own, so
// memory stays flat whatever the size and a damaged byte is found in the chunk it hits.
//
//   magic    8 bytes  "BTWB\0\0\0\x01"
//   hlen     u32 BE   length of the header
//   header   JSON     {v, alg, chunkSize, noncePrefix, wrappedKey, keyId, backupId, tenant}
//   chunk*   u8 flags (1 = final) | u32 BE length | ciphertext (length bytes) | GCM tag (16)
//
// Chunk i uses nonce = noncePrefix (4 bytes) ‖ u64 BE i, and AAD = sha256(magic‖hlen‖header)
// ‖ u64 BE i ‖ flags ‖ length. So the header cannot be altered (every chunk would fail),
// chunks cannot be reordered, dropped or replayed (the counter), and truncation is caught:
// a stream must end with exactly one chunk flagged final, and nothing may follow it.
// The data key is random per backup and stored in the header wrapped by the master key
// (the envelope in src/secrets); the caller passes the wrap/unwrap functions.

export const MAGIC = Buffer.from([0x42, 0x54, 0x57, 0x42, 0, 0, 0, 1]);
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const MAX_HEADER = 64 * 1024;
const TAG = 16;
const FINAL = 1;

export interface CryptoHeader {
  v: 1;
  alg: "AES-256-GCM";
  chunkSize: number;
  /** base64, 4 bytes */
  noncePrefix: string;
  /** the data key sealed under the master key */
  wrappedKey: string;
  keyId: string;
  backupId: string;
  tenant: string;
}

/** A backup that cannot be read: damaged, truncated, tampered with, or for another key. */
export class BackupIntegrityError extends BtwError {
  constructor(message: string, hint = "this backup cannot be trusted; use another one (`btw backup list --tenant <name>`)") {
    super("backup-corrupt", message, ExitCode.failed, { hint });
  }
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function nonce(prefix: Buffer, i: number): Buffer {
  return Buffer.concat([prefix, u64(i)]);
}

function aad(headerHash: Buffer, i: number, flags: number, length: number): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt8(flags, 0);
  tail.writeUInt32BE(length, 1);
  return Buffer.concat([headerHash, u64(i), tail]);
}

export interface EncryptOptions {
  backupId: string;
  tenant: string;
  keyId: string;
  /** seals the 32-byte data key (e.g. envelope seal under the master key) */
  wrapKey: (dataKey: Buffer) => string;
  chunkSize?: number;
}

/** plaintext in → btwb out. */
export function encryptStream(opts: EncryptOptions): Transform {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) throw new RangeError(`invalid chunk size ${chunkSize}`);
  const key = randomBytes(32);
  const prefix = randomBytes(4);
  const header: CryptoHeader = {
    v: 1,
    alg: "AES-256-GCM",
    chunkSize,
    noncePrefix: prefix.toString("base64"),
    wrappedKey: opts.wrapKey(key),
    keyId: opts.keyId,
    backupId: opts.backupId,
    tenant: opts.tenant,
  };
  const headerJson = Buffer.from(JSON.stringify(header), "utf8");
  const hlen = Buffer.alloc(4);
  hlen.writeUInt32BE(headerJson.length);
  const preamble = Buffer.concat([MAGIC, hlen, headerJson]);
  const headerHash = createHash("sha256").update(preamble).digest();
  let index = 0;
  const pending = new ByteQueue();
  let started = false;

  const seal = (plain: Buffer, flags: number): Buffer => {
    const cipher = createCipheriv("aes-256-gcm", key, nonce(prefix, index));
    cipher.setAAD(aad(headerHash, index, flags, plain.length));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const head = Buffer.alloc(5);
    head.writeUInt8(flags, 0);
    head.writeUInt32BE(plain.length, 1);
    index++;
    return Buffer.concat([head, body, cipher.getAuthTag()]);
  };
  const start = (t: Transform) => {
    if (!started) {
      started = true;
      t.push(preamble);
    }
  };

  return new Transform({
    transform(data: Buffer, _enc, cb: TransformCallback) {
      start(this);
      pending.push(data);
      // Keep at least one byte back: the last chunk must be the one flagged final.
      while (pending.length > chunkSize) this.push(seal(pending.take(chunkSize), 0));
      cb();
    },
    flush(cb: TransformCallback) {
      start(this);
      this.push(seal(pending.length > 0 ? pending.take(pending.length) : Buffer.alloc(0), FINAL));
      key.fill(0);
      cb();
    },
  });
}

export interface DecryptOptions {
  /** unseals the data key; throws when the master key is wrong */
  unwrapKey: (wrapped: string, header: CryptoHeader) => Buffer;
  /** called once the header is read (e.g. to check it names the expected backup) */
  onHeader?: (header: CryptoHeader) => void;
}

/** btwb in → plaintext out; errors with BackupIntegrityError on any damage. */
export function decryptStream(opts: DecryptOptions): Transform {
  const buf = new ByteQueue();
  let header: CryptoHeader | null = null;
  let headerHash: Buffer | null = null;
  let key: Buffer | null = null;
  let prefix: Buffer | null = null;
  let index = 0;
  let done = false;

  const fail = (msg: string) => new BackupIntegrityError(msg);

  const parse = (t: Transform): Error | null => {
    for (;;) {
      if (done) {
        if (buf.length > 0) return fail(`data after the final chunk (${buf.length} bytes): the backup was tampered with`);
        return null;
      }
      if (!header) {
        if (buf.length < 12) return null;
        const start = buf.peek(12);
        if (!start.subarray(0, 8).equals(MAGIC)) return fail("not a btw backup (bad magic), or from a newer format");
        const hlen = start.readUInt32BE(8);
        if (hlen > MAX_HEADER) return fail("backup header too large: damaged");
        if (buf.length < 12 + hlen) return null;
        const preamble = Buffer.from(buf.take(12 + hlen));
        try {
          const h = JSON.parse(preamble.subarray(12).toString("utf8")) as CryptoHeader;
          if (h.v !== 1 || h.alg !== "AES-256-GCM" || !Number.isInteger(h.chunkSize) || h.chunkSize < 1 || h.chunkSize > MAX_CHUNK_SIZE) {
            return fail("backup header is not a supported format");
          }
          prefix = Buffer.from(h.noncePrefix, "base64");
          if (prefix.length !== 4) return fail("backup header is damaged (nonce)");
          header = h;
        } catch {
          return fail("backup header is damaged (not JSON)");
        }
        headerHash = createHash("sha256").update(preamble).digest();
        opts.onHeader?.(header);
        key = opts.unwrapKey(header.wrappedKey, header);
        continue;
      }
      if (buf.length < 5) return null;
      const head = buf.peek(5);
      const flags = head.readUInt8(0);
      const length = head.readUInt32BE(1);
      if ((flags & ~FINAL) !== 0 || length > header.chunkSize) return fail(`chunk ${index} has a damaged frame header`);
      const total = 5 + length + TAG;
      if (buf.length < total) return null;
      const frame = buf.take(total);
      const decipher = createDecipheriv("aes-256-gcm", key!, nonce(prefix!, index));
      decipher.setAAD(aad(headerHash!, index, flags, length));
      decipher.setAuthTag(frame.subarray(5 + length, total));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(frame.subarray(5, 5 + length)), decipher.final()]);
      } catch {
        return fail(`chunk ${index} failed authentication: the backup is damaged or was tampered with`);
      }
      index++;
      if (plain.length > 0) t.push(plain);
      if (flags & FINAL) {
        done = true;
        key!.fill(0);
      }
    }
  };

  return new Transform({
    transform(data: Buffer, _enc, cb: TransformCallback) {
      buf.push(data);
      try {
        cb(parse(this) ?? undefined);
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      if (!header) return cb(fail("backup is truncated: no complete header"));
      if (!done) return cb(fail(`backup is truncated after ${index} chunk(s): the final chunk is missing`));
      cb();
    },
  });
}

/** Reads only the header of a btwb stream's first bytes (for `backup list`-style checks). */
export function parseHeader(first: Buffer): CryptoHeader | null {
  if (first.length < 12 || !first.subarray(0, 8).equals(MAGIC)) return null;
  const hlen = first.readUInt32BE(8);
  if (first.length < 12 + hlen) return null;
  try {
    return JSON.parse(first.subarray(12, 12 + hlen).toString("utf8")) as CryptoHeader;
  } catch {
    return null;
  }
}
