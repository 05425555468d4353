import type { Handler } from "../../cli/program.js";
import { monthPeriod, quotaFlags, USAGE_METRICS, weeksIn, type UsageMetric } from "../../core/usage/usage.js";

// `btw usage [--month YYYY-MM] [--tenant T] [--json|--csv]`: what `usage collect` stored,
// against each plan's quotas; tenants at 80 % and 100 % are flagged.

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const { period, from, to } = monthPeriod(typeof opts.month === "string" ? opts.month : undefined);
  const rows = (
    await db.query<{ tenant: string; plan: string; metric: UsageMetric; value: number; collected: Date }>(
      `select tenant_slug as tenant, plan, metric, value, collected_at as collected from usage
        where period = $1::date and ($2::text is null or tenant_slug = $2) order by tenant_slug, metric`,
      [period, typeof opts.tenant === "string" ? opts.tenant : null],
    )
  ).rows;
  const byTenant = new Map<string, { tenant: string; plan: string; usage: Partial<Record<UsageMetric, number>>; collectedAt: string }>();
  for (const r of rows) {
    const t = byTenant.get(r.tenant) ?? { tenant: r.tenant, plan: r.plan, usage: {}, collectedAt: new Date(r.collected).toISOString() };
    t.usage[r.metric] = Number(r.value);
    byTenant.set(r.tenant, t);
  }
  const weeks = weeksIn(from, to);
  const tenants = [...byTenant.values()].map((t) => {
    const p = ctx.config.plans[t.plan];
    const quotas = { executionsPerMonth: p?.executionsPerMonth ?? null, activeWorkflows: p?.activeWorkflows ?? null, articlesPerWeek: p?.articlesPerWeek ?? null };
    return { ...t, quotas, flags: quotaFlags(t.usage, quotas, weeks) };
  });
  const data = { period: period.slice(0, 7), tenants };
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
