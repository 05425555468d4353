import type { Handler } from "../../cli/program.js";
import { formatBytes } from "../backup/format.js";

// An encrypted logical dump of the central state into the backup storage (_state/), so a
// fresh machine with the storage settings and the master key can bring the control plane back.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const { storageFor } = await import("../../ops/backup/tenant.js");
  const storage = await storageFor(ctx);
  if (opts.dryRun) {
    await ctx.master(); // the key must be there to encrypt
    return void ctx.out.result({ dryRun: true, storage: storage.root }, () => `would write an encrypted dump of the state to ${storage.root}/_state/ (dry run: nothing was changed)`);
  }
  const { backupState } = await import("../../ops/state/backup.js");
  const r = await backupState(ctx, db, storage);
  await ctx.audit("state.backup", r.id, { location: r.location, sizeBytes: r.sizeBytes });
  ctx.out.result({ ...r }, () => `state backup ${r.id}: ${Object.values(r.tables).reduce((a, b) => a + b, 0)} row(s) in ${Object.keys(r.tables).length} table(s), ${formatBytes(r.sizeBytes)} → ${r.location}`);
};
export default handler;
