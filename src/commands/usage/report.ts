import type { Handler } from "../../cli/program.js";
import { ExitCode, UsageError } from "../../errors.js";
import { USAGE_METRICS } from "../../core/usage/usage.js";
import { usageOf } from "../../ops/usage/flags.js";

// `btw usage [--month YYYY-MM] [--tenant T] [--json|--csv] [--enforce [--dry-run]]`: what
// `usage collect` stored, against each plan's quotas; tenants at 80 % and 100 % are flagged.
// --enforce unpublishes the customer workflows over the active-workflow quota (see
// core/usage/enforce.ts for the rule), journaled, each in the audit log (ops/usage/enforce.ts).

const handler: Handler = async (ctx, _args, opts) => {
  if (opts.dryRun && !opts.enforce) throw new UsageError("--dry-run goes with --enforce (the report alone changes nothing)", { code: "dry-run-without-enforce" });
  if (opts.enforce && opts.csv) throw new UsageError("--enforce prints its own report: drop --csv", { code: "enforce-csv" });
  const db = await ctx.db();
  const { period, tenants } = await usageOf(db, ctx.config, typeof opts.month === "string" ? opts.month : undefined, typeof opts.tenant === "string" ? opts.tenant : undefined);
  const data = { period: period.slice(0, 7), tenants: tenants.map(({ tenantId: _id, ...t }) => t) };
  if (opts.csv) {
    const lines = ["period,tenant,plan,metric,value,quota,flag"];
    for (const t of tenants) {
      for (const m of USAGE_METRICS) {
        const f = t.flags.find((x) => x.metric === m);
        const quota = m === "executions.total" ? t.quotas.executionsPerMonth : m === "workflows.active" ? t.quotas.activeWorkflows : null;
        lines.push([data.period, t.tenant, t.plan, m, t.usage[m] ?? "", f?.quota ?? quota ?? "", f?.level ?? ""].join(","));
      }
    }
    ctx.io.stdout.write(lines.join("\n") + "\n");
    return;
  }
  if (opts.enforce) {
    const { enforceWorkflowQuota } = await import("../../ops/usage/enforce.js");
    const results = await enforceWorkflowQuota(ctx, db, tenants, { dryRun: opts.dryRun === true });
    ctx.out.result({ ...data, dryRun: opts.dryRun === true, enforce: results }, () =>
      results.length === 0
        ? `no tenant over its active-workflow quota in ${data.period}`
        : results
            .map((r) =>
              !r.ok
                ? `  ✗ ${r.tenant}: ${r.error}`
                : [
                    r.skipped ? `  - ${r.tenant}: skipped (${r.skipped})` : `  ${r.tenant}: ${r.published} published, quota ${r.quota ?? "none"}${r.unpublished.length ? `; ${opts.dryRun ? "would unpublish" : "unpublished"} ${r.unpublished.map((w) => `'${w.name}' (${w.id})`).join(", ")}` : ""}`,
                    ...(r.resumed?.length ? [`    recorded ${r.resumed.map((w) => `'${w.name}' (${w.id})`).join(", ")}: unpublished by an interrupted run`] : []),
                    ...(r.unmet ? [`    ${r.unmet} over the quota are btw's own WF1–WF3, kept published`] : []),
                  ].join("\n"),
            )
            .join("\n"),
    );
    if (results.some((r) => !r.ok)) return ExitCode.partial;
    return;
  }
  ctx.out.result(data, () =>
    tenants.length === 0
      ? `no usage collected for ${data.period}: \`btw usage collect --month ${data.period}\``
      : ctx.out.table(tenants, [
          { header: "tenant", value: (t) => t.tenant },
          { header: "plan", value: (t) => t.plan },
          { header: "executions", value: (t) => `${t.usage["executions.total"] ?? "?"}${t.quotas.executionsPerMonth ? ` / ${t.quotas.executionsPerMonth}` : ""}` },
          { header: "errors", value: (t) => String(t.usage["executions.error"] ?? "?") },
          { header: "workflows", value: (t) => `${t.usage["workflows.active"] ?? "?"}${t.quotas.activeWorkflows ? ` / ${t.quotas.activeWorkflows}` : ""}` },
          { header: "articles", value: (t) => String(t.usage["articles.published"] ?? "?") },
          { header: "flags", value: (t) => t.flags.map((f) => `${f.metric} ${f.level}`).join(", ") },
        ]),
  );
};
export default handler;
