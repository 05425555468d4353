import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync } from "node:fs";
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
}

export function masterKeyPath(home: string): string {
  return join(home, "master.key");
}

export function keyId(key: Buffer): string {
  return createHash("sha256").update("btw-master-key-id\0").update(key).digest("hex").slice(0, 12);
}

function decode(text: string, where: string): Buffer {
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
    return { id: keyId(key), key, source: "BTW_MASTER_KEY" };
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
  return { id: keyId(key), key, source: "file" };
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
