import type { Handler } from "../../cli/program.js";
import { planSuspendResume, resumeTenant } from "../../ops/tenant/lifecycle.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  if (opts.dryRun) {
    const { tenant: t, server } = await planSuspendResume(db, String(name), "resume");
    return void ctx.out.result({ dryRun: true, resume: t.slug, server: server.name, status: t.status }, () =>
      `would start ${t.slug}'s stack on ${server.name}, wait until healthy, and route it again${t.status === "active" ? " (it is active already: converges)" : ""}`,
    );
  }
  const t = await resumeTenant(ctx, db, String(name));
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ tenant: t }, () => `${t.slug} is active again`);
};
export default handler;
