import type { Handler } from "../cli/program.js";
import { storageFor } from "../ops/backup.js";
import { describeRestore, executeRestore, planRestore } from "../ops/restore.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const storage = await storageFor(ctx);
  const plan = await planRestore(ctx, db, storage, {
    source: String(name),
    ...(typeof opts.backup === "string" ? { backupId: opts.backup } : {}),
    ...(typeof opts.as === "string" ? { as: opts.as } : {}),
    ...(typeof opts.server === "string" ? { server: opts.server } : {}),
  });
  const d = describeRestore(plan);
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, plan: d }, () =>
      [`would restore ${d.tenant} (${d.mode}) on ${d.server} from ${d.backup}:`, ...d.steps.map((s) => `  ${s}`)].join("\n"),
    );
  }
  if (plan.mode === "in-place") {
    await ctx.confirm(`Replace ALL data of tenant ${plan.target} (database and n8n files) with backup ${plan.backup.id}?`, opts.yes as boolean | undefined);
  }
  const r = await executeRestore(ctx, db, storage, plan, (s) => ctx.out.info(`· ${s}`));
  for (const m of r.mismatches) ctx.out.warn(m);
  ctx.out.result({ restore: r }, () => {
    const c = r.counts ? ` (${r.counts.workflows} workflows, ${r.counts.credentials} credentials, ${r.counts.executions} executions)` : "";
    return `${r.tenant} restored from ${r.backup} on ${r.server} in ${r.seconds.toFixed(1)} s${c}`;
  });
};
export default handler;
