import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.js";
import { createFileAside, replaceFileAside } from "./write-aside.js";

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

const MASTER_KEY_HINT =
  "put the key back: `btw key import <file>` with your `btw key export --recovery` file, or your copy of master.key; a new key cannot decrypt existing secrets";
const KEYRING_HINT = "`btw key import <file>` with your `btw key export --recovery` file writes the keyring's keys back";

/** Every retired key under $BTW_HOME/keyring; a file whose content does not match its name is refused. */
export function loadKeyring(home: string): Map<string, Buffer> {
  const dir = keyringDir(home);
  const ring = new Map<string, Buffer>();
  if (!existsSync(dir)) return ring;
  for (const name of readdirSync(dir).sort()) {
    const m = /^([0-9a-f]{12})\.key$/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const key = readKeyFile(path, { code: "keyring-invalid", hint: KEYRING_HINT });
    if (keyId(key) !== m[1]) {
      throw new ConfigError(`${path} holds key ${keyId(key)}, not ${m[1]}`, { code: "keyring-invalid", hint: "rename the file after the id of the key it holds, or remove it" });
    }
    ring.set(m[1]!, key);
  }
  return ring;
}

/**
 * Writes a key into the keyring (read-only file); a key already there is left as it is. A
 * file of its name that holds no key at all (empty, garbled) is replaced: nothing is lost.
 */
export function addToKeyring(home: string, key: Buffer): string {
  const id = keyId(key);
  const dir = keyringDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = join(dir, `${id}.key`);
  if (!writeExclusive(path, key, 0o400) && heldKey(path) === null) replaceFileAside(path, keyText(key), 0o400);
  return id;
}

/** Replaces $BTW_HOME/master.key whole (written aside, renamed into place). */
export function replaceMasterKeyFile(home: string, key: Buffer): void {
  const path = masterKeyPath(home);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  replaceFileAside(path, keyText(key), 0o600);
}

/** Creates a key file whole (written aside, linked into place); returns false when the file exists already. */
export function writeExclusive(path: string, key: Buffer, mode: number): boolean {
  return createFileAside(path, keyText(key), mode);
}

const keyText = (key: Buffer) => key.toString("base64") + "\n";

/**
 * Reads a key file (base64 or hex) without the mode check (the rotation's pending key uses it
 * as it is). An empty or garbled file is a ConfigError naming it and the way back.
 */
export function readKeyFile(path: string, why: { code: string; hint: string } = { code: "master-key-invalid", hint: MASTER_KEY_HINT }): Buffer {
  const text = readFileSync(path, "utf8");
  const key = parseKey(text);
  if (key) return key;
  throw new ConfigError(`${path} ${text.trim() === "" ? "is empty" : "holds no key (32 bytes of base64 or hex)"}`, why);
}

/** The key a file holds; null when there is none, or it is empty or garbled (nothing to keep). */
export function heldKey(path: string): Buffer | null {
  return existsSync(path) ? parseKey(readFileSync(path, "utf8")) : null;
}

export function masterKeyPath(home: string): string {
  return join(home, "master.key");
}

export function keyId(key: Buffer): string {
  return createHash("sha256").update("btw-master-key-id\0").update(key).digest("hex").slice(0, 12);
}

function parseKey(text: string): Buffer | null {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  return key.length === 32 ? key : null;
}

export function decode(text: string, where: string): Buffer {
  const key = parseKey(text);
  if (!key) {
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
  const key = readKeyFile(path);
  return { id: keyId(key), key, source: "file", ring: loadKeyring(home) };
}

/** Creates the key file (0600) unless it exists (never overwrites a key); returns whether it created it. */
export function createMasterKeyFile(home: string): boolean {
  const path = masterKeyPath(home);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return writeExclusive(path, randomBytes(32), 0o600);
}
