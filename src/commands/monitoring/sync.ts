import type { Handler } from "../../cli/program.js";
import { applySync, planSync } from "../../ops/monitoring/sync.js";

// Targets, rules, prometheus.yml and btw's own metrics onto the monitoring server.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const plan = await planSync(ctx, db, typeof opts.server === "string" ? opts.server : undefined, { dryRun: opts.dryRun === true });
  const summary = { server: plan.server, servers: plan.counts.servers, tenants: plan.counts.tenants, steps: plan.steps.map((s) => s.describe) };
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, ...summary }, () => [`would sync monitoring on ${plan.server}:`, ...summary.steps.map((s) => `  ${s}`)].join("\n"));
  }
  await applySync(ctx, db, plan);
  await ctx.audit("monitoring.sync", plan.server, { servers: plan.counts.servers, tenants: plan.counts.tenants });
  ctx.out.result(summary, () => `monitoring on ${plan.server}: ${plan.counts.servers} server(s), ${plan.counts.tenants} tenant(s) scraped; rules and btw's metrics updated`);
};
export default handler;
