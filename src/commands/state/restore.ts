import type { Handler } from "../../cli/program.js";

// Brings the central state back from `btw state backup` into a fresh state (after `btw init`
// and `btw key import` on a new machine). The backup is read and checked end to end first; the
// rows then replace the fresh state's in one transaction.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const { storageFor } = await import("../../ops/backup/tenant.js");
  const { readStateBackup, refuseStateInUse, restoreState } = await import("../../ops/state/backup.js");
  await refuseStateInUse(db);
  const storage = await storageFor(ctx);
  const { plan, dump } = await readStateBackup(ctx, db, storage, typeof opts.backup === "string" ? opts.backup : null);
  const total = (t: Record<string, number>) => Object.values(t).reduce((a, b) => a + b, 0);
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, ...plan }, () => `would restore state backup ${plan.id} (${plan.createdAt}): ${total(plan.tables)} row(s) (dry run: nothing was changed)`);
  }
  await ctx.confirm(`Replace this (fresh) state with state backup ${plan.id} of ${plan.createdAt}?`, opts.yes as boolean | undefined);
  const counts = await restoreState(db, dump);
  await ctx.audit("state.restore", plan.id, { createdAt: plan.createdAt, rows: total(counts) });
  ctx.out.result({ ...plan, restored: counts }, () =>
    [`state restored from ${plan.id} (${plan.createdAt}): ${total(counts)} row(s)`, "next: `btw server check` (host keys and servers come back with the state), `btw backup list`"].join("\n"),
  );
};
export default handler;
