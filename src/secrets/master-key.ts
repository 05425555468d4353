import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync, closeSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.js";

// The master key encrypts every tenant secret (as the key-encryption key of an envelope).
// It comes from BTW_MASTER_KEY (for CI/cron with a secret manager) or $BTW_HOME/master.key
// (0600, created by `btw init`). Its id — a short hash — is stored beside each ciphertext,
// so a rotation can tell which key sealed what, and a wrong key fails clearly.

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
  readonly source: "BTW_MASTER_KEY" | "file";
  /**
   * Retired keys by id ($BTW_HOME/keyring/<id>.key, kept by `btw key rotate`): they only
   * open what they sealed (backups taken before a rotation); nothing new is sealed with them.
   */
  readonly ring?: ReadonlyMap<string, Buffer>;
}

export function keyringDir(home: string): string {
  return join(home, "keyring");
}

/** The key with this id: the current one or a retired one; undefined when not held. */
export function keyById(master: MasterKey, id: string): Buffer | undefined {
  return id === master.id ? master.key : master.ring?.get(id);
}

/** Every retired key under $BTW_HOME/keyring; a file whose content does not match its name is refused. */
export function loadKeyring(home: string): Map<string, Buffer> {
  const dir = keyringDir(home);
  const ring = new Map<string, Buffer>();
  if (!existsSync(dir)) return ring;
  for (const name of readdirSync(dir).sort()) {
    const m = /^([0-9a-f]{12})\.key$/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const key = decode(readFileSync(path, "utf8"), path);
    if (keyId(key) !== m[1]) {
      throw new ConfigError(`${path} holds key ${keyId(key)}, not ${m[1]}`, { code: "keyring-invalid", hint: "rename the file after the id of the key it holds, or remove it" });
    }
    ring.set(m[1]!, key);
  }
  return ring;
}

/** Writes a key into the keyring (read-only file); a key already there is left as it is. */
export function addToKeyring(home: string, key: Buffer): string {
  const id = keyId(key);
  const dir = keyringDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeExclusive(join(dir, `${id}.key`), key, 0o400);
  return id;
}

/** Replaces $BTW_HOME/master.key atomically (write, fsync, rename). */
export function replaceMasterKeyFile(home: string, key: Buffer): void {
  const path = masterKeyPath(home);
  const tmp = `${path}.tmp-${process.pid}`;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeExclusive(tmp, key, 0o600);
  renameSync(tmp, path);
}

/** Writes a key file with O_EXCL; returns false when the file exists already. */
export function writeExclusive(path: string, key: Buffer, mode: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, key.toString("base64") + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, mode);
  return true;
}

/** Reads a key file (base64 or hex) without the mode check: for the rotation's pending key. */
export function readKeyFile(path: string): Buffer {
  return decode(readFileSync(path, "utf8"), path);
}

export function masterKeyPath(home: string): string {
  return join(home, "master.key");
}

export function keyId(key: Buffer): string {
  return createHash("sha256").update("btw-master-key-id\0").update(key).digest("hex").slice(0, 12);
}

export function decode(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) {
    throw new ConfigError(`the master key in ${where} is not 32 bytes of base64 or hex`, {
      code: "master-key-invalid",
      hint: "restore the original key; a new key cannot decrypt existing secrets",
    });
  }
  return key;
}

export function loadMasterKey(home: string, env: NodeJS.ProcessEnv): MasterKey {
  if (env.BTW_MASTER_KEY) {
    const key = decode(env.BTW_MASTER_KEY, "BTW_MASTER_KEY");
    return { id: keyId(key), key, source: "BTW_MASTER_KEY", ring: loadKeyring(home) };
  }
  const path = masterKeyPath(home);
  if (!existsSync(path)) {
    throw new ConfigError(`no master key: BTW_MASTER_KEY is unset and ${path} does not exist`, {
      code: "master-key-missing",
      hint: "run `btw init` to create one, or set BTW_MASTER_KEY",
    });
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new ConfigError(`${path} is readable by others (mode ${mode.toString(8)})`, {
      code: "master-key-mode",
      hint: `chmod 600 ${path}`,
    });
  }
  const key = decode(readFileSync(path, "utf8"), path);
  return { id: keyId(key), key, source: "file", ring: loadKeyring(home) };
}

/** Creates the key file (0600) unless it exists; returns whether it created it. */
export function createMasterKeyFile(home: string): boolean {
  const path = masterKeyPath(home);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600); // O_EXCL: never overwrite an existing key
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, randomBytes(32).toString("base64") + "\n");
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
  return true;
}
