import { createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { BackupIntegrityError } from "./crypto-stream.js";
import { ByteQueue } from "./byte-queue.js";

// The age file format (https://age-encryption.org/v1), X25519 recipients only, written to
// the spec with node:crypto rather than with the npm `age-encryption` package: that package
// does its ChaCha20-Poly1305 in JavaScript (@noble) and brings five dependencies (post-quantum
// included) for what OpenSSL already does here several times faster; a backup is GBs. What
// comes out is opened by Debian's `age -d -i <identity file>`, and the tests prove it.
//
//   age-encryption.org/v1
//   -> X25519 <ephemeral share, base64>
//   <file key wrapped for that recipient, base64>
//   --- <HMAC-SHA256 of the header, base64>
//   nonce (16 bytes) ‖ STREAM: ChaCha20-Poly1305 over 64 KiB chunks, the last one flagged

export const AGE_MAGIC = Buffer.from("age-encryption.org/v1\n", "ascii");
const X25519_INFO = "age-encryption.org/v1/X25519";
const CHUNK = 64 * 1024;
const TAG = 16;
const MAX_HEADER = 64 * 1024;

// ---------- keys: bech32 (BIP 173) as age spells them ----------

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]!;
  }
  return chk >>> 0;
}

const hrpExpand = (hrp: string) => [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));

function convertBits(data: Iterable<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    return null;
  }
  return out;
}

export function bech32Encode(hrp: string, data: Buffer): string {
  const h = hrp.toLowerCase();
  const words = convertBits(data, 8, 5, true)!;
  const mod = polymod([...hrpExpand(h), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const check = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${h}1${[...words, ...check].map((w) => CHARSET[w]).join("")}`;
}

export function bech32Decode(text: string): { hrp: string; data: Buffer } | null {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return null;
  const s = text.toLowerCase();
  const sep = s.lastIndexOf("1");
  if (sep < 1 || sep + 7 > s.length) return null;
  const hrp = s.slice(0, sep);
  const words: number[] = [];
  for (const c of s.slice(sep + 1)) {
    const w = CHARSET.indexOf(c);
    if (w < 0) return null;
    words.push(w);
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== 1) return null;
  const bytes = convertBits(words.slice(0, -6), 5, 8, false);
  return bytes ? { hrp, data: Buffer.from(bytes) } : null;
}

// ---------- X25519 ----------

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");

const privateKeyOf = (secret: Buffer) => createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: "der", type: "pkcs8" });
const publicKeyOf = (pub: Buffer) => createPublicKey({ key: Buffer.concat([SPKI_X25519, pub]), format: "der", type: "spki" });

function x25519Public(secret: Buffer): Buffer {
  const der = createPublicKey(privateKeyOf(secret)).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32));
}

function x25519(secret: Buffer, pub: Buffer): Buffer {
  return diffieHellman({ privateKey: privateKeyOf(secret), publicKey: publicKeyOf(pub) });
}

/** An age X25519 identity: the secret scalar and its recipient. */
export interface AgeIdentity {
  readonly secret: Buffer;
  readonly recipient: string;
}

export function identityFromSecret(secret: Buffer): AgeIdentity {
  if (secret.length !== 32) throw new RangeError("an X25519 secret is 32 bytes");
  return { secret, recipient: bech32Encode("age", x25519Public(secret)) };
}

export function generateIdentity(): AgeIdentity {
  return identityFromSecret(randomBytes(32));
}

/** AGE-SECRET-KEY-1…, as age-keygen writes it. */
export function formatIdentity(id: AgeIdentity): string {
  return bech32Encode("age-secret-key-", id.secret).toUpperCase();
}

/** An identity file's text (age-keygen's layout); the one line that is the key, comments kept out. */
export function parseIdentity(text: string): AgeIdentity | null {
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (!line || line.startsWith("#")) continue;
    const d = bech32Decode(line);
    if (!d || d.hrp !== "age-secret-key-" || d.data.length !== 32) return null;
    return identityFromSecret(d.data);
  }
  return null;
}

export function recipientKey(recipient: string): Buffer {
  const d = bech32Decode(recipient);
  if (!d || d.hrp !== "age" || d.data.length !== 32) throw new RangeError(`not an age X25519 recipient: ${JSON.stringify(recipient.slice(0, 80))}`);
  return d.data;
}

/** The age identity a btw master key stands for: derived, so every retired key keeps its own. */
export function identityFromMasterKey(key: Buffer): AgeIdentity {
  return identityFromSecret(Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "btw backup age identity v1", 32)));
}

// ---------- header ----------

const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
const unb64 = (s: string): Buffer | null => (/^[A-Za-z0-9+/]*$/.test(s) ? Buffer.from(s, "base64") : null);
const hkdf = (ikm: Buffer, salt: Buffer, info: string) => Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));

function aeadSeal(key: Buffer, nonce: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function aeadOpen(key: Buffer, nonce: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < TAG) return null;
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
  } catch {
    return null;
  }
}

function wrapFor(recipient: string, fileKey: Buffer): string {
  const pub = recipientKey(recipient);
  const eph = randomBytes(32);
  const share = x25519Public(eph);
  const wrapKey = hkdf(x25519(eph, pub), Buffer.concat([share, pub]), X25519_INFO);
  eph.fill(0);
  return `-> X25519 ${b64(share)}\n${b64(aeadSeal(wrapKey, Buffer.alloc(12), fileKey))}\n`;
}

function unwrapWith(id: AgeIdentity, shareB64: string, body: Buffer): Buffer | null {
  const share = unb64(shareB64);
  if (!share || share.length !== 32 || body.length !== 16 + TAG) return null;
  let secret: Buffer;
  try {
    secret = x25519(id.secret, share);
  } catch {
    return null; // a low-order point: OpenSSL refuses it
  }
  if (secret.every((b) => b === 0)) return null;
  return aeadOpen(hkdf(secret, Buffer.concat([share, recipientKey(id.recipient)]), X25519_INFO), Buffer.alloc(12), body);
}

const headerMac = (fileKey: Buffer, upToDashes: Buffer) => createHmac("sha256", hkdf(fileKey, Buffer.alloc(0), "header")).update(upToDashes).digest();

// ---------- STREAM ----------

function chunkNonce(i: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(i, 5, 6); // an 11-byte counter; 2^48 chunks of 64 KiB is far beyond any backup
  n[11] = last ? 1 : 0;
  return n;
}

/** plaintext in → an age file encrypted to every recipient out. */
export function ageEncryptStream(recipients: readonly string[]): Transform {
  if (recipients.length === 0) throw new RangeError("age: at least one recipient");
  const fileKey = randomBytes(16);
  const upToDashes = Buffer.from(`${AGE_MAGIC.toString("ascii")}${recipients.map((r) => wrapFor(r, fileKey)).join("")}---`, "ascii");
  const nonce = randomBytes(16);
  const header = Buffer.concat([upToDashes, Buffer.from(` ${b64(headerMac(fileKey, upToDashes))}\n`, "ascii"), nonce]);
  const payloadKey = hkdf(fileKey, nonce, "payload");
  fileKey.fill(0);
  const pending = new ByteQueue();
  let index = 0;
  let started = false;
  const start = (t: Transform) => {
    if (!started) {
      started = true;
      t.push(header);
    }
  };
  return new Transform({
    transform(data: Buffer, _e, cb: TransformCallback) {
      start(this);
      pending.push(data);
      // a full chunk is sealed only when more follows: the last chunk must carry the flag
      while (pending.length > CHUNK) this.push(aeadSeal(payloadKey, chunkNonce(index++, false), pending.take(CHUNK)));
      cb();
    },
    flush(cb: TransformCallback) {
      start(this);
      this.push(aeadSeal(payloadKey, chunkNonce(index++, true), pending.length > 0 ? pending.take(pending.length) : Buffer.alloc(0)));
      payloadKey.fill(0);
      cb();
    },
  });
}

export interface AgeDecryptOptions {
  /** every identity that may open it (the current master key's, the retired ones', a recovery identity) */
  identities: readonly AgeIdentity[];
  /** the error when none does */
  noKey?: () => Error;
}


/** age file in → plaintext out; BackupIntegrityError on damage, truncation or no matching identity. */
export function ageDecryptStream(opts: AgeDecryptOptions): Transform {
  const q = new ByteQueue();
  let payloadKey: Buffer | null = null;
  let index = 0;
  let lastSeen = false;
  const fail = (m: string) => new BackupIntegrityError(m);

  const readHeader = (): Error | null | "more" => {
    const n = Math.min(q.length, MAX_HEADER);
    const text = q.peek(n);
    const end = text.indexOf("\n---");
    if (end < 0) return q.length >= MAX_HEADER ? fail("age header too large or damaged") : "more";
    const macEnd = text.indexOf("\n", end + 4);
    if (macEnd < 0) return "more";
    if (q.length < macEnd + 1 + 16) return "more";
    const lines = text.subarray(0, end).toString("latin1").split("\n");
    if (`${lines[0]}\n` !== AGE_MAGIC.toString("ascii")) return fail("not an age file");
    const stanzas: { type: string; args: string[]; body: Buffer }[] = [];
    let i = 1;
    while (i < lines.length) {
      const head = lines[i++]!;
      if (!head.startsWith("-> ")) return fail("age header is damaged (stanza)");
      const [type, ...args] = head.slice(3).split(" ");
      const parts: string[] = [];
      for (;;) {
        const l = lines[i++];
        if (l === undefined || l.length > 64) return fail("age header is damaged (stanza body)");
        parts.push(l);
        if (l.length < 64) break;
      }
      const body = unb64(parts.join(""));
      if (!body) return fail("age header is damaged (base64)");
      stanzas.push({ type: type!, args, body });
    }
    const upToDashes = Buffer.from(text.subarray(0, end + 4));
    const macLine = text.subarray(end + 4, macEnd).toString("latin1");
    const mac = macLine.startsWith(" ") ? unb64(macLine.slice(1)) : null;
    if (!mac || mac.length !== 32) return fail("age header is damaged (MAC)");
    let fileKey: Buffer | null = null;
    for (const s of stanzas) {
      if (s.type !== "X25519" || s.args.length !== 1) continue;
      for (const id of opts.identities) {
        fileKey = unwrapWith(id, s.args[0]!, s.body);
        if (fileKey) break;
      }
      if (fileKey) break;
    }
    if (!fileKey || fileKey.length !== 16) return opts.noKey?.() ?? fail("no identity held opens this age file");
    if (!timingSafeEqual(headerMac(fileKey, upToDashes), mac)) return fail("age header failed authentication: damaged or tampered with");
    q.skip(macEnd + 1);
    payloadKey = hkdf(fileKey, q.take(16), "payload");
    fileKey.fill(0);
    return null;
  };

  const open = (t: Transform, sealed: Buffer, last: boolean): Error | null => {
    const plain = aeadOpen(payloadKey!, chunkNonce(index, last), sealed);
    if (!plain) return fail(`age chunk ${index} failed authentication: the backup is damaged or was tampered with (or cut short)`);
    if (last && plain.length === 0 && index > 0) return fail("age file ends with an empty chunk");
    index++;
    if (plain.length > 0) t.push(plain);
    return null;
  };

  return new Transform({
    transform(data: Buffer, _e, cb: TransformCallback) {
      q.push(data);
      try {
        if (!payloadKey) {
          const r = readHeader();
          if (r === "more") return cb();
          if (r) return cb(r);
        }
        // a full chunk is opened only once more bytes follow it: the final one may be full too
        while (q.length > CHUNK + TAG) {
          const e = open(this, q.take(CHUNK + TAG), false);
          if (e) return cb(e);
        }
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      if (!payloadKey) return cb(fail("age file is truncated: no complete header"));
      if (lastSeen) return cb();
      lastSeen = true;
      const e = open(this, q.length > 0 ? q.take(q.length) : Buffer.alloc(0), true);
      payloadKey.fill(0);
      cb(e ?? undefined);
    },
  });
}
