import type { Handler } from "../../cli/program.js";
import { suspendTenant } from "../../ops/tenant-lifecycle.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, suspend: name }, () => `would route ${name} to the maintenance page (503) and stop its n8n; data is kept`);
  const t = await suspendTenant(ctx, db, String(name));
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ tenant: t }, () => `${t.slug} is suspended: visitors get the maintenance page`);
};
export default handler;
