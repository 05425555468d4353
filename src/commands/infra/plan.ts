import type { Handler } from "../../cli/program.js";
import { addedMonthlyCost, describeChanges } from "../../core/infra/plan.js";
import { infraSetup, prepare, refuseServersWithTenants, savedPlan } from "../../ops/infra/terraform.js";

// Shows what `infra apply` would do. Changes nothing (the saved plan is what apply replans).
const handler: Handler = async (ctx) => {
  const setup = infraSetup(ctx);
  await prepare(ctx, setup, { token: true });
  const plan = await savedPlan(ctx, setup);
  const cost = addedMonthlyCost(plan, ctx.config.hetzner.serverTypes);
  let blocked: string | null = null;
  if (plan.serversGoing.length) {
    try {
      await refuseServersWithTenants(await ctx.db(), plan.serversGoing, "apply this plan");
    } catch (e) {
      blocked = (e as Error).message;
    }
  }
  ctx.out.result({ counts: plan.counts, changes: plan.changes, serversGoing: plan.serversGoing, addedEurMonth: cost.eur, blocked }, () => {
    if (blocked) ctx.out.warn(`${blocked} — \`btw infra apply\` will refuse`);
    if (cost.unknownTypes.length) ctx.out.warn(`no price for server type(s) ${cost.unknownTypes.join(", ")} in hetzner.serverTypes`);
    const c = plan.counts;
    if (c.create + c.update + c.replace + c.delete === 0) return "no changes: the platform matches the config";
    return [
      ...describeChanges(plan),
      `plan: ${c.create} to create, ${c.update} to change, ${c.replace} to replace, ${c.delete} to delete` + (cost.eur ? `; new servers ≈ €${cost.eur.toFixed(2)}/month (list price, without VAT)` : ""),
    ].join("\n");
  });
};
export default handler;
