import { existsSync, unlinkSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { Ctx } from "../../cli/context.js";
import { OperationError, UsageError } from "../../errors.js";
import {
  addToKeyring,
  keyId,
  loadKeyring,
  masterKeyPath,
  readKeyFile,
  replaceMasterKeyFile,
  writeExclusive,
  type MasterKey,
} from "../../secrets/master-key.js";
import type { Db } from "../../state/db.js";
import { makeCurrent } from "../../state/master-keys.js";
import { listAllServerSecrets, lockServerSecretsNotSealedBy } from "../../state/server-secrets.js";
import { listAllTenantSecrets, lockTenantSecretsNotSealedBy } from "../../state/tenant-secrets.js";
import { resealServerSecret } from "../server/secrets.js";
import { resealSecret } from "../tenant-secrets.js";

// `btw key rotate`: a new master key, every tenant and server secret re-sealed under it, the old key
// kept read-only in $BTW_HOME/keyring so backups taken before still open (age backups too:
// the master key's age identity is derived from it). A new backup recovery identity as well,
// the old one kept in the keyring. Order matters, so
// that a crash at any point loses nothing and a re-run finishes:
//   1. the new key is written to master.key.next (kept across a crash: a re-run reuses it)
//      and both keys to the keyring — from here every secret opens whatever happens;
//   2. one transaction re-seals every secret and records the new key as current (a secret
//      written meanwhile keeps its new value: compare-and-set, then a locked second pass);
//   3. master.key.next replaces master.key.

export interface RotatePlan {
  from: string;
  to: string | null;
  secrets: number;
  resumed: boolean;
}

export interface RotateResult extends RotatePlan {
  to: string;
  resealed: number;
  /** the new backup recovery identity's recipient (the old identity stays in the keyring) */
  recoveryRecipient: string;
}

const pendingPath = (home: string) => `${masterKeyPath(home)}.next`;

export function requireFileKey(master: MasterKey, verb: string): void {
  if (master.source !== "file") {
    throw new UsageError(`${verb} works on $BTW_HOME/master.key, but the master key comes from BTW_MASTER_KEY`, {
      code: "master-key-env",
      hint: "run it where the key is a file (then put the new key into your secret manager), or unset BTW_MASTER_KEY",
    });
  }
}

export async function planRotation(ctx: Ctx, db: Db): Promise<RotatePlan> {
  const master = await ctx.master();
  requireFileKey(master, "key rotate");
  const next = existsSync(pendingPath(ctx.home)) ? keyId(readKeyFile(pendingPath(ctx.home))) : null;
  const r = await db.query<{ n: number }>(`select (select count(*) from tenant_secrets)::int + (select count(*) from server_secrets)::int as n`);
  return { from: master.id, to: next, secrets: r.rows[0]!.n, resumed: next !== null };
}

export async function rotateMasterKey(ctx: Ctx, db: Db): Promise<RotateResult> {
  const old = await ctx.master();
  requireFileKey(old, "key rotate");
  const lock = await db.lock({ kind: "bulk", name: "key-rotate" }, { timeoutMs: 10_000 });
  try {
    const pending = pendingPath(ctx.home);
    const resumed = existsSync(pending);
    if (!resumed) {
      const fresh = randomBytes(32);
      writeExclusive(pending, fresh, 0o600);
      fresh.fill(0);
    }
    const nextKey = readKeyFile(pending);
    const next: MasterKey = { id: keyId(nextKey), key: nextKey, source: "file" };
    addToKeyring(ctx.home, old.key);
    addToKeyring(ctx.home, nextKey);
    // every key this operator holds opens: secrets a crashed run already re-sealed included
    const opener: MasterKey = { ...old, ring: loadKeyring(ctx.home) };
    let resealed = 0;
    let total = 0;
    await db.transaction(async (tx) => {
      // Read without locks, so `tenant secrets set` and `secrets rotate` are not held up by
      // the whole pass; each re-seal is a compare-and-set on the ciphertext read, so a value
      // written meanwhile is never put back to the one read before it.
      let already = 0;
      for (const row of await listAllTenantSecrets(tx)) {
        if (row.keyId === next.id) already++;
        else if (await resealSecret(tx, opener, next, row)) resealed++;
      }
      // What the pass could not re-seal — written since the read (with the old key: writers
      // load master.key, replaced only after this commits) or added — locked now, re-sealed
      // as it is; a value removed meanwhile stays removed.
      const changed = await lockTenantSecretsNotSealedBy(tx, next.id);
      for (const row of changed) {
        if (!(await resealSecret(tx, opener, next, row))) {
          throw new OperationError(`tenant ${row.tenantId}'s ${row.name} changed under its row lock; nothing was re-sealed`, { code: "key-rotate-conflict", hint: "run `btw key rotate` again (it reuses the pending key)" });
        }
        resealed++;
      }
      // the servers' secrets (metrics tokens) the same way
      for (const row of await listAllServerSecrets(tx)) {
        if (row.keyId === next.id) already++;
        else if (await resealServerSecret(tx, opener, next, row)) resealed++;
      }
      for (const row of await lockServerSecretsNotSealedBy(tx, next.id)) {
        if (!(await resealServerSecret(tx, opener, next, row))) {
          throw new OperationError(`server ${row.serverId}'s ${row.name} changed under its row lock; nothing was re-sealed`, { code: "key-rotate-conflict", hint: "run `btw key rotate` again (it reuses the pending key)" });
        }
        resealed++;
      }
      total = already + resealed;
      await makeCurrent(tx, next.id);
    });
    replaceMasterKeyFile(ctx.home, nextKey);
    // a new backup recovery identity with the new key; the old one opens older backups from the keyring
    const { rotateRecoveryIdentity } = await import("../../secrets/recovery-identity.js");
    const recoveryRecipient = rotateRecoveryIdentity(ctx.home);
    unlinkSync(pending);
    return { from: old.id, to: next.id, secrets: total, resealed, resumed, recoveryRecipient };
  } finally {
    await lock.release();
  }
}
