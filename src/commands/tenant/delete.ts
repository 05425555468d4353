import type { Handler } from "../../cli/program.js";
import { deleteTenant } from "../../ops/tenant-lifecycle.js";
import { requireTenant } from "../../ops/tenant-context.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const t = await requireTenant(db, String(name));
  const purge = opts.purge === true;
  const what = purge ? `remove tenant ${t.slug} and ALL its data (database, n8n files, secrets)` : `take tenant ${t.slug} out of service (containers and route removed; data kept)`;
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, tenant: t.slug, purge }, () => `would ${what}`);
  await ctx.confirm(`${what[0]!.toUpperCase()}${what.slice(1)}?`, opts.yes as boolean | undefined);
  const after = await deleteTenant(ctx, db, t.slug, purge);
  ctx.out.result({ tenant: after, purge }, () => (purge ? `${t.slug} purged` : `${t.slug} removed from service; \`btw tenant delete ${t.slug} --purge\` removes its data`));
};
export default handler;
