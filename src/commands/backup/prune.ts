import type { Handler } from "../../cli/program.js";
import { ExitCode } from "../../errors.js";
import { cleanupInterrupted, storageFor } from "../../ops/backup/tenant.js";
import { applyPrune, planPrune } from "../../ops/backup/prune.js";

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const storage = await storageFor(ctx);
  const r = ctx.config.backup.retention;
  const plan = await planPrune(ctx, db);
  const summary = `retention: ${r.daily} daily, ${r.weekly} weekly, ${r.monthly} monthly, purged tenants ${r.purgedDays} days`;
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, retention: r, keep: plan.keep, remove: plan.remove }, () =>
      [`${summary}: would keep ${plan.keep.length}, delete ${plan.remove.length}`, ...plan.remove.map((b) => `  delete ${b.id}`)].join("\n"),
    );
  }
  const cleaned = await cleanupInterrupted(db, storage);
  const done = await applyPrune(db, storage, plan);
  await ctx.audit("backup.prune", "*", { removed: done.removed, failed: done.failed.map((f) => f.id), interruptedCleaned: cleaned });
  // a purged tenant's last data going for good: one audit row per backup, naming it
  for (const b of plan.remove) {
    if (b.purged && done.removed.includes(b.id)) await ctx.audit("backup.delete", b.tenant, { backup: b.id, reason: `purged tenant, past backup.retention.purgedDays (${r.purgedDays})` });
  }
  ctx.out.result({ retention: r, kept: plan.keep.length, removed: done.removed, failed: done.failed, interruptedCleaned: cleaned }, () =>
    [`${summary}: kept ${plan.keep.length}, deleted ${done.removed.length}`, ...done.failed.map((f) => `  could not delete ${f.id}: ${f.error}`)].join("\n"),
  );
  if (done.failed.length) return ExitCode.partial;
};
export default handler;
