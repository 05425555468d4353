import type { Handler } from "../../cli/program.js";
import { resumeTenant } from "../../ops/tenant-lifecycle.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, resume: name }, () => `would start ${name}'s stack, wait until healthy, and route it again`);
  const t = await resumeTenant(ctx, db, String(name));
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ tenant: t }, () => `${t.slug} is active again`);
};
export default handler;
