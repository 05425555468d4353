import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { Ctx } from "../../cli/context.js";
import { openRecovery, parseRecovery, sealRecovery, type RecoveryFile } from "../../core/keys/recovery.js";
import { UsageError } from "../../errors.js";
import { addToKeyring, heldKey, keyId, loadKeyring, masterKeyPath, replaceMasterKeyFile, writeExclusive } from "../../secrets/master-key.js";

// `key export --recovery` / `key import`: the keys travel as a passphrase-sealed file
// (src/core/keys/recovery.ts). Import never discards a key: a different local key is moved
// into the keyring before the imported one becomes current. It is also the way back from an
// empty or garbled master.key or keyring file (they hold no key to keep): it writes them anew.

export async function exportRecovery(ctx: Ctx, passphrase: string): Promise<RecoveryFile> {
  const master = await ctx.master();
  const retired = [...(master.ring ?? new Map<string, Buffer>()).entries()].filter(([id]) => id !== master.id).map(([, k]) => k);
  // the backup recovery identities travel too: current (created now if this home predates it) first
  const { formatIdentity } = await import("../../core/backup/age.js");
  const { ensureRecoveryIdentity, loadRecoveryIdentity, loadRetiredRecoveryIdentities } = await import("../../secrets/recovery-identity.js");
  ensureRecoveryIdentity(ctx.home);
  const recovery = [loadRecoveryIdentity(ctx.home)!, ...loadRetiredRecoveryIdentities(ctx.home)].map(formatIdentity);
  return sealRecovery({ current: master.key, retired, recovery }, passphrase, keyId);
}

export function readRecoveryFile(path: string): RecoveryFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { code: "recovery-unreadable" });
  }
  return parseRecovery(text, path);
}

export interface ImportPlan {
  imported: string;
  keys: string[];
  /** the local key that stops being current (kept in the keyring); null when none or the same */
  replaces: string | null;
}

/** What an import would do, from the file's header alone (no passphrase needed). */
export function planImport(ctx: Ctx, f: RecoveryFile): ImportPlan {
  const held = heldKey(masterKeyPath(ctx.home));
  const local = held ? keyId(held) : null;
  return { imported: f.current, keys: f.keys, replaces: local && local !== f.current ? local : null };
}

export async function importRecovery(ctx: Ctx, f: RecoveryFile, passphrase: string): Promise<{ keyring: string[] }> {
  const keys = await openRecovery(f, passphrase, keyId);
  mkdirSync(ctx.home, { recursive: true, mode: 0o700 });
  for (const k of keys.retired) addToKeyring(ctx.home, k);
  const path = masterKeyPath(ctx.home);
  const local = heldKey(path);
  if (local) {
    if (keyId(local) !== keyId(keys.current)) {
      addToKeyring(ctx.home, local);
      replaceMasterKeyFile(ctx.home, keys.current);
    }
  } else if (existsSync(path)) {
    replaceMasterKeyFile(ctx.home, keys.current);
  } else {
    writeExclusive(path, keys.current, 0o600);
  }
  if (keys.recovery?.length) {
    const { parseIdentity } = await import("../../core/backup/age.js");
    const { installRecoveryIdentity, retireRecoveryIdentity } = await import("../../secrets/recovery-identity.js");
    const [current, ...retired] = keys.recovery.map((t) => parseIdentity(t)).filter((i) => i !== null);
    for (const r of retired) retireRecoveryIdentity(ctx.home, r);
    if (current) installRecoveryIdentity(ctx.home, current);
  }
  return { keyring: [...loadKeyring(ctx.home).keys()] };
}
