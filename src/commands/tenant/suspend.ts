import type { Handler } from "../../cli/program.js";
import { planSuspendResume, suspendTenant } from "../../ops/tenant/lifecycle.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  if (opts.dryRun) {
    const { tenant: t, server } = await planSuspendResume(db, String(name), "suspend");
    return void ctx.out.result({ dryRun: true, suspend: t.slug, server: server.name, status: t.status }, () =>
      `would route ${t.slug} on ${server.name} to the maintenance page (503) and stop its n8n; data is kept${t.status === "suspended" ? " (it is suspended already: converges)" : ""}`,
    );
  }
  const t = await suspendTenant(ctx, db, String(name));
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ tenant: t }, () => `${t.slug} is suspended: visitors get the maintenance page`);
};
export default handler;
