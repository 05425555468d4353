import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity, generateIdentity, identityFromMasterKey, parseIdentity, recipientKey, type AgeIdentity } from "../core/backup/age.js";
import { ConfigError } from "../errors.js";
import { keyringDir, type MasterKey } from "./master-key.js";
import { createFileAside, replaceFileAside } from "./write-aside.js";

// Backups are age files encrypted to two recipients: the master key's own (derived from it,
// so every retired key in the keyring keeps opening what it wrote) and a recovery identity —
// a plain age X25519 identity in $BTW_HOME/recovery-identity.txt, age-keygen's layout, so that
// `age -d -i recovery-identity.txt` opens any backup without btw. It is created by `init`
// (or by the first backup of a home that predates it) and replaced by `key rotate`, which keeps
// the old one in the keyring; `key export --recovery` carries them all.

export const RECOVERY_FILE = "recovery-identity.txt";

export const recoveryIdentityPath = (home: string) => join(home, RECOVERY_FILE);

/** e.g. recovery-1a2b3c4d5e6f.txt in the keyring: named after the recipient. */
export const recoveryId = (recipient: string) => createHash("sha256").update(recipient).digest("hex").slice(0, 12);

export function identityText(id: AgeIdentity, at = new Date()): string {
  return `# btw backup recovery identity (age X25519), created: ${at.toISOString()}\n# public key: ${id.recipient}\n${formatIdentity(id)}\n`;
}

function readIdentity(path: string): AgeIdentity {
  const id = parseIdentity(readFileSync(path, "utf8"));
  if (!id) throw new ConfigError(`${path} is not an age identity (AGE-SECRET-KEY-1…)`, { code: "recovery-identity-invalid", hint: "restore it from your `btw key export --recovery` file (`btw key import`)" });
  return id;
}

export function loadRecoveryIdentity(home: string): AgeIdentity | null {
  const path = recoveryIdentityPath(home);
  if (!existsSync(path)) return null;
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new ConfigError(`${path} is readable by others (mode ${mode.toString(8)})`, { code: "recovery-identity-mode", hint: `chmod 600 ${path}` });
  return readIdentity(path);
}

/** Retired recovery identities (keyring/recovery-<id>.txt). */
export function loadRetiredRecoveryIdentities(home: string): AgeIdentity[] {
  const dir = keyringDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^recovery-[0-9a-f]{12}\.txt$/.test(n))
    .sort()
    .map((n) => readIdentity(join(dir, n)));
}

/** Creates the recovery identity unless it exists; returns its recipient and whether it was made now. */
export function ensureRecoveryIdentity(home: string): { recipient: string; created: boolean } {
  const existing = loadRecoveryIdentity(home);
  if (existing) return { recipient: existing.recipient, created: false };
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const created = createFileAside(recoveryIdentityPath(home), identityText(generateIdentity()), 0o600);
  return { recipient: loadRecoveryIdentity(home)!.recipient, created };
}

/** Keeps an identity in the keyring (read-only); one already there is left as it is. */
export function retireRecoveryIdentity(home: string, id: AgeIdentity): void {
  const dir = keyringDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  createFileAside(join(dir, `recovery-${recoveryId(id.recipient)}.txt`), identityText(id), 0o400);
}

/** Puts `id` in place as the recovery identity, the one it replaces (if other) kept in the keyring. */
export function installRecoveryIdentity(home: string, id: AgeIdentity): void {
  const current = loadRecoveryIdentity(home);
  if (current?.recipient === id.recipient) return;
  if (current) retireRecoveryIdentity(home, current);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  replaceFileAside(recoveryIdentityPath(home), identityText(id), 0o600);
}

/** `key rotate`: a new recovery identity; the old one stays in the keyring. */
export function rotateRecoveryIdentity(home: string): string {
  const next = generateIdentity();
  installRecoveryIdentity(home, next);
  return next.recipient;
}

/**
 * The recipients a new backup is encrypted to: the master key's and the recovery identity's.
 * BTW_RECOVERY_RECIPIENT (an age1… public key) stands in for the file on a host that holds
 * the master key from its environment but not the recovery identity.
 */
export function backupRecipients(master: MasterKey, home: string, env: NodeJS.ProcessEnv): { recipients: string[]; createdRecovery: boolean } {
  const own = identityFromMasterKey(master.key).recipient;
  const fromEnv = env.BTW_RECOVERY_RECIPIENT?.trim();
  if (fromEnv) {
    try {
      recipientKey(fromEnv);
    } catch {
      throw new ConfigError("BTW_RECOVERY_RECIPIENT is not an age X25519 recipient (age1…)", { code: "recovery-recipient-invalid" });
    }
    return { recipients: [own, fromEnv], createdRecovery: false };
  }
  const r = ensureRecoveryIdentity(home);
  return { recipients: [own, r.recipient], createdRecovery: r.created };
}

/** What btw opens backups with: the current master key's identity and every retired key's. */
export function backupIdentities(master: MasterKey): AgeIdentity[] {
  const keys = [master.key, ...[...(master.ring ?? new Map<string, Buffer>()).entries()].filter(([id]) => id !== master.id).map(([, k]) => k)];
  return keys.map(identityFromMasterKey);
}
