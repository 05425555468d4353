import type { Handler } from "../../cli/program.js";
import { UsageError } from "../../errors.js";
import { deleteTenant } from "../../ops/tenant/lifecycle.js";
import { requireTenant } from "../../ops/tenant-context.js";

const handler: Handler = async (ctx, [name], opts) => {
  const purge = opts.purge === true;
  // commander turns --no-final-backup into finalBackup: false
  const noFinalBackup = opts.finalBackup === false;
  if (noFinalBackup && !purge) throw new UsageError("--no-final-backup only goes with --purge");
  if (noFinalBackup && !opts.yes) throw new UsageError("--purge --no-final-backup removes the data with no backup of it", { hint: "add --yes if that is what you want" });
  const db = await ctx.db();
  const t = await requireTenant(db, String(name));
  const what = purge
    ? `remove tenant ${t.slug} and ALL its data (database, n8n files, secrets)${noFinalBackup ? " WITHOUT a final backup" : " after a final backup"}`
    : `take tenant ${t.slug} out of service (containers and route removed; data kept)`;
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, tenant: t.slug, purge, finalBackup: purge && !noFinalBackup }, () => `would ${what}`);
  await ctx.confirm(`${what[0]!.toUpperCase()}${what.slice(1)}?`, opts.yes as boolean | undefined);
  const after = await deleteTenant(ctx, db, t.slug, { purge, noFinalBackup, onStep: (s) => ctx.out.info(`· ${s}`) });
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ tenant: after, purge, finalBackup: after.finalBackup ?? null }, () =>
    purge
      ? `${t.slug} purged${after.finalBackup ? `; its last data is in backup ${after.finalBackup} (\`btw restore ${t.slug}\`)` : " (no final backup)"}`
      : `${t.slug} removed from service; \`btw tenant delete ${t.slug} --purge\` removes its data`,
  );
};
export default handler;
