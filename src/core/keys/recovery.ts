import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from "node:crypto";
import { UsageError } from "../../errors.js";

// The recovery file of `btw key export --recovery`: the current master key and the retired
// ones (so backups taken before a rotation still open), sealed with a key derived from a
// passphrase by scrypt, meant to be printed or kept offline. JSON text:
//
//   {format, v, kdf: {name: "scrypt", N, r, p, salt}, cipher: "AES-256-GCM", iv, current, keys, data}
//
// Everything but `data` is bound as GCM additional data, so a file whose header was edited
// (cheaper KDF parameters, another key id) does not open.

export const RECOVERY_FORMAT = "btw-master-key-recovery";
export const MIN_PASSPHRASE = 12;
// N=2^17, r=8: 128 MiB and about half a second per attempt — costly to guess, fine once.
const DEFAULT_KDF = { N: 131072, r: 8, p: 1 };

export interface RecoveryHeader {
  format: typeof RECOVERY_FORMAT;
  v: 1;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "AES-256-GCM";
  iv: string;
  /** id of the current key */
  current: string;
  /** ids of every key inside, current first */
  keys: string[];
}

export interface RecoveryFile extends RecoveryHeader {
  data: string;
}

export interface KeySet {
  current: Buffer;
  retired: Buffer[];
  /**
   * The backup recovery identities (age, AGE-SECRET-KEY-1…), current first: carried inside
   * the sealed data only, so files written before them still open (absent there).
   */
  recovery?: string[];
}

function derive(passphrase: string, salt: Buffer, kdf: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize("NFKC"), salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))),
  );
}

function aad(h: RecoveryHeader): Buffer {
  return Buffer.from(JSON.stringify([h.format, h.v, h.kdf.name, h.kdf.N, h.kdf.r, h.kdf.p, h.kdf.salt, h.cipher, h.iv, h.current, h.keys]));
}

export function checkPassphrase(passphrase: string): void {
  if ([...passphrase].length < MIN_PASSPHRASE) {
    throw new UsageError(`the recovery passphrase must be at least ${MIN_PASSPHRASE} characters`, { code: "passphrase-short" });
  }
}

export async function sealRecovery(keys: KeySet, passphrase: string, idOf: (k: Buffer) => string, kdf = DEFAULT_KDF): Promise<RecoveryFile> {
  checkPassphrase(passphrase);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const header: RecoveryHeader = {
    format: RECOVERY_FORMAT,
    v: 1,
    kdf: { name: "scrypt", ...kdf, salt: salt.toString("base64") },
    cipher: "AES-256-GCM",
    iv: iv.toString("base64"),
    current: idOf(keys.current),
    keys: [keys.current, ...keys.retired].map(idOf),
  };
  const k = await derive(passphrase, salt, kdf);
  const cipher = createCipheriv("aes-256-gcm", k, iv);
  cipher.setAAD(aad(header));
  const plain = Buffer.from(
    JSON.stringify({ current: keys.current.toString("base64"), retired: keys.retired.map((r) => r.toString("base64")), ...(keys.recovery?.length ? { recovery: keys.recovery } : {}) }),
  );
  const data = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  plain.fill(0);
  k.fill(0);
  return { ...header, data: data.toString("base64") };
}

/** Parses the file's text; a UsageError (exit 2) when it is not a recovery file. */
export function parseRecovery(text: string, where: string): RecoveryFile {
  let f: RecoveryFile;
  try {
    f = JSON.parse(text) as RecoveryFile;
  } catch {
    throw new UsageError(`${where} is not a btw recovery file (not JSON)`, { code: "recovery-invalid" });
  }
  const ok =
    f?.format === RECOVERY_FORMAT &&
    f.v === 1 &&
    f.kdf?.name === "scrypt" &&
    [f.kdf.N, f.kdf.r, f.kdf.p].every((n) => Number.isInteger(n) && n > 0) &&
    f.kdf.N <= 2 ** 20 &&
    f.kdf.r <= 32 &&
    f.kdf.p <= 16 &&
    f.cipher === "AES-256-GCM" &&
    typeof f.iv === "string" &&
    typeof f.data === "string" &&
    typeof f.current === "string" &&
    Array.isArray(f.keys);
  if (!ok) throw new UsageError(`${where} is not a btw recovery file this btw understands`, { code: "recovery-invalid" });
  return f;
}

/** Opens a recovery file; a wrong passphrase or an edited file is one UsageError (exit 2). */
export async function openRecovery(f: RecoveryFile, passphrase: string, idOf: (k: Buffer) => string): Promise<KeySet> {
  const k = await derive(passphrase, Buffer.from(f.kdf.salt, "base64"), f.kdf);
  const data = Buffer.from(f.data, "base64");
  let plain: Buffer;
  try {
    const d = createDecipheriv("aes-256-gcm", k, Buffer.from(f.iv, "base64"));
    d.setAAD(aad(f));
    d.setAuthTag(data.subarray(data.length - 16));
    plain = Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
  } catch {
    throw new UsageError("the recovery file does not open: wrong passphrase, or the file was altered", { code: "recovery-passphrase" });
  } finally {
    k.fill(0);
  }
  const parsed = JSON.parse(plain.toString("utf8")) as { current: string; retired: string[]; recovery?: unknown };
  plain.fill(0);
  const keys: KeySet = { current: Buffer.from(parsed.current, "base64"), retired: parsed.retired.map((r) => Buffer.from(r, "base64")) };
  if (Array.isArray(parsed.recovery) && parsed.recovery.every((r) => typeof r === "string")) keys.recovery = parsed.recovery as string[];
  const ids = [keys.current, ...keys.retired].map(idOf);
  if (ids[0] !== f.current || ids.join(",") !== f.keys.join(",") || [keys.current, ...keys.retired].some((x) => x.length !== 32)) {
    throw new UsageError("the recovery file's keys do not match its header: the file was altered", { code: "recovery-invalid" });
  }
  return keys;
}
