import type { Handler } from "../../cli/program.js";
import { ExitCode, OperationError } from "../../errors.js";
import { applyDeploy, planDeploy } from "../../ops/monitoring/deploy.js";

// Exporters on every server; Prometheus, Alertmanager, blackbox and Grafana on the
// monitoring server; then targets, rules and btw's metrics (what `monitoring sync` does).
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const server = typeof opts.server === "string" ? opts.server : undefined;
  const plan = await planDeploy(ctx, db, server, { revealSecrets: !opts.dryRun });
  for (const s of plan.skipped) ctx.out.warn(`${s}: known only by a public address; no exporters there (label it btw-private-ip to watch it)`);
  if (opts.dryRun) {
    const doc = { dryRun: true, monitoringServer: plan.server, servers: plan.perServer.map((p) => ({ server: p.server, steps: p.steps.map((s) => s.describe) })) };
    return void ctx.out.result(doc, () => doc.servers.map((s) => [`${s.server}:`, ...s.steps.map((x) => `  ${x}`)].join("\n")).join("\n"));
  }
  const results = await applyDeploy(ctx, db, plan);
  await ctx.audit("monitoring.deploy", plan.server, { servers: results.map((r) => ({ server: r.server, ok: r.ok })) });
  const failed = results.filter((r) => !r.ok);
  ctx.out.result({ monitoringServer: plan.server, results }, () =>
    results.map((r) => (r.ok ? `✓ ${r.server}${r.server === plan.server ? " (exporters + monitoring stack)" : " (exporters)"}` : `✗ ${r.server}: ${r.error}`)).join("\n"),
  );
  if (failed.length === 0) return;
  if (failed.some((f) => f.server === plan.server)) throw new OperationError(`the monitoring stack on ${plan.server} was not deployed: ${failed.find((f) => f.server === plan.server)!.error}`, { code: "monitoring-deploy" });
  return ExitCode.partial;
};
export default handler;
