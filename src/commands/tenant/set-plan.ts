import type { Handler } from "../../cli/program.js";
import { setTenantPlan } from "../../ops/tenant/lifecycle.js";
import { requirePlan, requireTenant } from "../../ops/tenant-context.js";

const handler: Handler = async (ctx, [name, plan], opts) => {
  const db = await ctx.db();
  if (opts.dryRun) {
    const t = await requireTenant(db, String(name));
    const to = requirePlan(ctx, String(plan));
    const from = requirePlan(ctx, t.plan);
    return void ctx.out.result({ dryRun: true, tenant: t.slug, from: t.plan, to: plan }, () =>
      `would change ${t.slug} from ${t.plan} to ${plan}: ${from.queueMode !== to.queueMode ? "recreate (mode changes)" : "update limits in place (no restart)"}`,
    );
  }
  const r = await setTenantPlan(ctx, db, String(name), String(plan));
  ctx.out.result(r, () => (r.applied === "unchanged" ? `${r.tenant.slug} is already on ${r.to}` : `${r.tenant.slug}: ${r.from} → ${r.to} (${r.applied})`));
};
export default handler;
