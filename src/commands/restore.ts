import type { Handler } from "../cli/program.js";
import { UsageError } from "../errors.js";
import { storageFor } from "../ops/backup/tenant.js";
import { crossingNote, describeRestore } from "../ops/tenant/restore/describe.js";
import { executeRestore } from "../ops/tenant/restore/execute.js";
import { planRestore } from "../ops/tenant/restore/plan.js";

const handler: Handler = async (ctx, [name], opts) => {
  // commander turns --no-safety-backup into safetyBackup: false
  const noSafetyBackup = opts.safetyBackup === false;
  if (opts.rollback && (opts.backup || opts.as || opts.server)) throw new UsageError("--rollback takes no --backup, --as or --server: it undoes the interrupted restore");
  if (noSafetyBackup && !opts.yes) throw new UsageError("--no-safety-backup replaces the current data with no copy of it", { hint: "add --yes if the current data is known lost" });
  const db = await ctx.db();
  const storage = await storageFor(ctx);
  const plan = await planRestore(ctx, db, storage, {
    source: String(name),
    ...(typeof opts.backup === "string" ? { backupId: opts.backup } : {}),
    ...(typeof opts.as === "string" ? { as: opts.as } : {}),
    ...(typeof opts.server === "string" ? { server: opts.server } : {}),
    ...(opts.rollback ? { rollback: true } : {}),
    noSafetyBackup,
  });
  const d = describeRestore(plan);
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, plan: d }, () =>
      [`would restore ${d.tenant} (${d.mode}) on ${d.server}${d.backup ? ` from ${d.backup}` : ""}:`, ...d.steps.map((s) => `  ${s}`)].join("\n"),
    );
  }
  if (plan.mode === "in-place") {
    const crossing = crossingNote(plan);
    await ctx.confirm(`Replace ALL data of tenant ${plan.target} (database and n8n files) with backup ${plan.backup!.id}?${crossing ? ` (${crossing})` : ""} (a safety backup is taken first)`, opts.yes as boolean | undefined);
  } else if (plan.mode === "rollback") {
    await ctx.confirm(`Undo the interrupted restore of ${plan.target}${plan.backup ? ` by restoring its safety backup ${plan.backup.id}` : ""}?`, opts.yes as boolean | undefined);
  }
  const r = await executeRestore(ctx, db, storage, plan, (s) => ctx.out.info(`· ${s}`));
  for (const m of r.mismatches) ctx.out.warn(m);
  ctx.out.result({ restore: r }, () => {
    const c = r.counts ? ` (${r.counts.workflows} workflows, ${r.counts.credentials} credentials, ${r.counts.executions} executions)` : "";
    const what = r.mode === "rollback" ? "rolled back" : "restored";
    const safety = r.safetyBackup && r.mode !== "rollback" && r.safetyBackup !== "skipped" ? `; its data before is in backup ${r.safetyBackup}` : "";
    return `${r.tenant} ${what}${r.backup ? ` from ${r.backup}` : ""} on ${r.server} in ${r.seconds.toFixed(1)} s${c}, ${r.status}${safety}`;
  });
};
export default handler;
