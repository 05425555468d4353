import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { BtwError, ExitCode } from "../errors.js";
import { keyById, type MasterKey } from "./master-key.js";

// Envelope encryption: each value gets a fresh data key (DEK); the DEK is wrapped by the
// master key. Rotating the master key only re-wraps DEKs. Both layers are AES-256-GCM.
// The context (e.g. "tenant:acme/N8N_ENCRYPTION_KEY") is bound as additional data, so a
// ciphertext copied onto another row or tenant fails to open instead of leaking.
//
// Sealed format (text, safe for a TEXT column):
//   v1.<keyId>.<iv_k>.<wrappedDek+tag>.<iv_d>.<ciphertext+tag>   (base64url parts)

const VERSION = "v1";
const TAG = 16;

export class SecretDecryptError extends BtwError {
  constructor(message: string, hint: string) {
    super("secret-decrypt", message, ExitCode.failed, { hint });
  }
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, sealed: Buffer.concat([body, cipher.getAuthTag()]) };
}

function gcmOpen(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
}

export function seal(master: MasterKey, context: string, plaintext: string | Buffer): string {
  const dek = randomBytes(32);
  const aad = Buffer.from(`btw:${VERSION}:${context}`);
  const wrapped = gcmSeal(master.key, dek, Buffer.concat([aad, Buffer.from(":dek")]));
  const data = gcmSeal(dek, Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext, "utf8"), aad);
  dek.fill(0);
  const b = (x: Buffer) => x.toString("base64url");
  return [VERSION, master.id, b(wrapped.iv), b(wrapped.sealed), b(data.iv), b(data.sealed)].join(".");
}

export function sealedKeyId(sealed: string): string | null {
  const parts = sealed.split(".");
  return parts.length === 6 && parts[0] === VERSION ? parts[1]! : null;
}

export function open(master: MasterKey, context: string, sealed: string): Buffer {
  const parts = sealed.split(".");
  if (parts.length !== 6 || parts[0] !== VERSION) {
    throw new SecretDecryptError(`secret for ${context} is not in a format this btw understands`, "the state may be from a newer btw; upgrade btw");
  }
  const [, kid, ivK, wrapped, ivD, data] = parts as [string, string, string, string, string, string];
  const key = keyById(master, kid);
  if (!key) {
    throw new SecretDecryptError(
      `secret for ${context} was sealed with master key ${kid}, but the current master key is ${master.id} and the keyring does not hold ${kid}`,
      "use the original master key (BTW_MASTER_KEY or $BTW_HOME/master.key), or `btw key import` a recovery file that holds it; nothing was modified",
    );
  }
  const aad = Buffer.from(`btw:${VERSION}:${context}`);
  const d = (x: string) => Buffer.from(x, "base64url");
  try {
    const dek = gcmOpen(key, d(ivK), d(wrapped), Buffer.concat([aad, Buffer.from(":dek")]));
    try {
      return gcmOpen(dek, d(ivD), d(data), aad);
    } finally {
      dek.fill(0);
    }
  } catch {
    throw new SecretDecryptError(`secret for ${context} failed authentication (tampered, or copied from another record)`, "restore the state from a backup; nothing was modified");
  }
}

export function openString(master: MasterKey, context: string, sealed: string): string {
  return open(master, context, sealed).toString("utf8");
}
