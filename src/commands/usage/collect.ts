import type { Handler } from "../../cli/program.js";
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
  ctx.out.result(r, () =>
    [
      `usage of ${r.period.slice(0, 7)}: ${r.results.filter((x) => x.ok).length}/${r.results.length} tenant(s) collected`,
      ...r.results.filter((x) => !x.ok).map((x) => `  ✗ ${x.tenant} (${x.server}): ${x.error}`),
    ].join("\n"),
  );
  if (r.results.some((x) => !x.ok)) return ExitCode.partial;
};
export default handler;
