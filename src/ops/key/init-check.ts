import { existsSync, unlinkSync } from "node:fs";
import type { Ctx } from "../../cli/context.js";
import { UsageError } from "../../errors.js";
import { keyById, masterKeyPath } from "../../secrets/master-key.js";
import type { Db } from "../../state/db.js";
import { keyIdsInUse } from "../../state/master-keys.js";

// `btw init` on a second host against a shared PostgreSQL state: if the state's secrets were
// sealed by a key this host does not hold, creating a fresh key would split the fleet between
// two keys. Refuse (exit 2), and undo the config file this run wrote, so nothing changed.
export async function refuseForeignKeys(ctx: Ctx, db: Db, createdConfig: string | null): Promise<void> {
  const inUse = await keyIdsInUse(db);
  if (inUse.length === 0) return;
  const hasKey = Boolean(ctx.env.BTW_MASTER_KEY) || existsSync(masterKeyPath(ctx.home));
  const master = hasKey ? await ctx.master() : null;
  const missing = inUse.filter((id) => !master || !keyById(master, id));
  if (missing.length === 0) return;
  if (createdConfig) unlinkSync(createdConfig);
  throw new UsageError(
    master
      ? `the state already holds secrets sealed by master key ${missing.join(", ")}, and this host's key is ${master.id}: refusing to mix keys`
      : `the state already holds secrets sealed by master key ${missing.join(", ")}: refusing to create a second key`,
    {
      code: "master-key-foreign",
      hint: "import that key first: `btw key import <recovery-file>` (made with `btw key export --recovery` where it lives), or set BTW_MASTER_KEY; then run `btw init` again",
    },
  );
}
