import type { Handler } from "../../cli/program.js";
import { describeWindow } from "../../core/tenant/migration-window.js";
import { UsageError } from "../../errors.js";
import { storageFor } from "../../ops/backup/tenant.js";
import { cleanupMigration } from "../../ops/tenant/migrate/cleanup.js";
import { currentMigration, migrationStateOf } from "../../ops/tenant/migrate/journal.js";
import { preflightMigrate } from "../../ops/tenant/migrate/preflight.js";
import { rollbackMigration } from "../../ops/tenant/migrate/rollback.js";
import { migrateTenant } from "../../ops/tenant/migrate/run.js";
import { requireTenant } from "../../ops/tenant-context.js";

const handler: Handler = async (ctx, [name], opts) => {
  const slug = String(name);
  const modes = [typeof opts.to === "string", opts.rollback === true, opts.cleanup === true].filter(Boolean).length;
  if (modes !== 1) throw new UsageError("say what to do: --to <server>, --rollback or --cleanup");
  const db = await ctx.db();
  const step = (s: string) => ctx.out.info(`· ${s}`);
  if (opts.dryRun) {
    const t = await requireTenant(db, slug);
    if (typeof opts.to === "string") {
      const pre = await preflightMigrate(ctx, db, slug, opts.to);
      return void ctx.out.result({ dryRun: true, tenant: slug, from: pre.source.name, to: pre.target.name, problems: pre.problems }, () =>
        [
          `would migrate ${slug} from ${pre.source.name} to ${pre.target.name}:`,
          "  fresh backup; maintenance page and n8n stopped on the source; final backup;",
          `  restore on the target; wait for n8n; switch the route${ctx.config.proxy.mode === "edge" ? " (every edge proxy's table)" : ""}; source stack down (kept for --rollback)`,
          ...pre.problems.map((p) => `  problem: ${p}`),
        ].join("\n"),
      );
    }
    const state = await migrationStateOf(db, t);
    const m = state.kind === "none" ? null : state.migration;
    const unfinished = state.kind === "rollback-unfinished";
    return void ctx.out.result({ dryRun: true, tenant: slug, migration: m?.details ?? null, rollbackUnfinished: unfinished, action: opts.rollback ? "rollback" : "cleanup" }, () =>
      !m
        ? `${slug} has no migration whose source is kept`
        : unfinished
          ? opts.rollback
            ? `would finish the rollback to ${m.details.from}: routes, then remove the stack left on ${m.details.to}`
            : `would refuse: the rollback to ${m.details.from} did not finish (${slug} runs there); \`btw tenant migrate ${slug} --rollback --yes\` finishes it`
          : `would ${opts.rollback ? `move ${slug} back to ${m.details.from}` : `remove ${slug}'s kept stack on ${m.details.from}`}`,
    );
  }
  if (opts.cleanup) {
    const t = await requireTenant(db, slug);
    const m = await currentMigration(db, t.id);
    // nothing kept to remove (or a rollback to finish first): cleanupMigration says so, no question asked
    if (m) await ctx.confirm(`Remove ${slug}'s kept source stack on ${m.details.from} (its volumes and files: --rollback is no longer possible)?`, opts.yes as boolean | undefined);
    const r = await cleanupMigration(ctx, db, slug, step);
    return void ctx.out.result(r, () => `${slug}'s source stack on ${r.removedFrom} removed`);
  }
  const storage = await storageFor(ctx);
  const r = opts.rollback ? await rollbackMigration(ctx, db, storage, slug, step) : await migrateTenant(ctx, db, storage, slug, String(opts.to), step);
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ migration: r }, () =>
    `${slug} ${opts.rollback ? "rolled back" : "migrated"} ${r.from} → ${r.to} in ${r.seconds.toFixed(1)} s (${describeWindow(r.unavailable, r.edgeProxies)})${opts.rollback ? "" : `; the source stack is kept: \`btw tenant migrate ${slug} --cleanup\` removes it, --rollback goes back`}`,
  );
};
export default handler;
