import type { Ctx } from "../../../cli/context.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { Db } from "../../../state/db.js";
import { lockTenant } from "../../tenant-context.js";
import { crossingNote } from "./describe.js";
import { inPlace } from "./in-place.js";
import type { RestorePlan } from "./plan.js";
import { recreate } from "./recreate.js";
import type { RestoreResult, Step } from "./result.js";

// `btw restore`: a backup back into a tenant stack — the same tenant in place, a purged or
// failed tenant's name, or a new name (--as).
//
// In place, the rule is that the tenant's current data stays in a completed backup until the
// restored stack is ready. We take a safety backup first (reason `pre-restore`) rather than
// restore into new volumes and switch: the tenant stack has one fixed Compose file with fixed
// volume names, and the safety backup reuses the one backup path that is already verified
// end to end (and is what `--rollback` restores). It costs one backup's time before the
// restore. The tenant is `restoring` throughout: the proxy serves the maintenance page,
// `backup all` skips it (so no half-restored stack is ever recorded as a backup), and the
// journal (operations, kind tenant.restore) keeps the backup, the safety backup and the
// status before. Killed at any step, `btw restore <tenant>` finishes with the same backup;
// `btw restore <tenant> --rollback` puts the safety backup back. The tenant ends in the
// status it had before (a suspended tenant stays suspended).

export async function executeRestore(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, onStep?: Step): Promise<RestoreResult> {
  const step = onStep ?? ((s: string) => ctx.out.info(`· ${s}`));
  const lock = await lockTenant(db, p.target);
  try {
    const master = await ctx.master();
    const crossing = crossingNote(p);
    if (crossing) step(crossing);
    return p.mode === "recreate" ? await recreate(ctx, db, storage, p, master, step) : await inPlace(ctx, db, storage, p, master, lock, step);
  } finally {
    await lock.release();
  }
}
