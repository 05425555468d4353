import type { Ctx } from "../../cli/context.js";
import type { Handler } from "../../cli/program.js";
import type { Db } from "../../state/db.js";
import { ExitCode } from "../../errors.js";
import { collectUsage } from "../../ops/usage/collect.js";

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  if (opts.dryRun) {
    const { monthPeriod } = await import("../../core/usage/usage.js");
    const { listTenants } = await import("../../state/tenants.js");
    const { period } = monthPeriod(typeof opts.month === "string" ? opts.month : undefined);
    const tenants = (await listTenants(db, { status: ["active", "suspended"] })).filter((t) => typeof opts.tenant !== "string" || t.slug === opts.tenant).map((t) => t.slug);
    return void ctx.out.result({ dryRun: true, period, tenants }, () => `would query ${tenants.length} tenant database(s) for ${period.slice(0, 7)} and replace that month's rows in the usage table`);
  }
  const r = await collectUsage(ctx, db, typeof opts.month === "string" ? opts.month : undefined, typeof opts.tenant === "string" ? { tenant: opts.tenant } : {});
  await ctx.audit("usage.collect", r.period, { tenants: r.results.length, failed: r.results.filter((x) => !x.ok).map((x) => x.tenant) });
  // tenants at 80 % / 100 % of a quota: told once per threshold per month
  const notices = opts.notify === false ? [] : await notifyCollected(ctx, db, r.period, typeof opts.tenant === "string" ? opts.tenant : undefined);
  for (const n of notices) for (const d of n.deliveries.filter((x) => !x.ok)) ctx.out.warn(`quota notice for ${n.tenant} (${n.metric} ${n.level}) not delivered by ${d.channel}: ${d.error}`);
  ctx.out.result({ ...r, notices }, () =>
    [
      `usage of ${r.period.slice(0, 7)}: ${r.results.filter((x) => x.ok).length}/${r.results.length} tenant(s) collected`,
      ...r.results.filter((x) => !x.ok).map((x) => `  ✗ ${x.tenant} (${x.server}): ${x.error}`),
      ...notices.map((n) => `  ${n.deliveries.some((d) => d.ok) ? "notified" : "not notified"}: ${n.tenant} at ${n.level} of ${n.metric}`),
    ].join("\n"),
  );
  if (r.results.some((x) => !x.ok)) return ExitCode.partial;
};
async function notifyCollected(ctx: Ctx, db: Db, period: string, tenant: string | undefined) {
  const { usageOf } = await import("../../ops/usage/flags.js");
  const { notifyQuotas } = await import("../../ops/usage/quota-notify.js");
  const u = await usageOf(db, ctx.config, period.slice(0, 7), tenant);
  return notifyQuotas(ctx, db, u.period, u.tenants, { env: ctx.env });
}
export default handler;
