// What `usage collect` stored for a month, per tenant, against its plan's quotas — read by
// `usage report`, by the quota notices and by --enforce.

import type { Config } from "../../config/schema.js";
import { monthPeriod, quotaFlags, weeksIn, type QuotaFlag, type Quotas, type UsageMetric } from "../../core/usage/usage.js";
import type { Queryable } from "../../state/db.js";

export interface TenantUsage {
  tenantId: number;
  tenant: string;
  plan: string;
  usage: Partial<Record<UsageMetric, number>>;
  collectedAt: string;
  quotas: Quotas;
  flags: QuotaFlag[];
}

export async function usageOf(q: Queryable, config: Pick<Config, "plans">, month: string | undefined, tenant?: string): Promise<{ period: string; tenants: TenantUsage[] }> {
  const { period, from, to } = monthPeriod(month);
  const rows = (
    await q.query<{ tenantId: number; tenant: string; plan: string; metric: UsageMetric; value: number; collected: Date }>(
      `select tenant_id::int as "tenantId", tenant_slug as tenant, plan, metric, value, collected_at as collected from usage
        where period = $1::date and ($2::text is null or tenant_slug = $2) order by tenant_slug, metric`,
      [period, tenant ?? null],
    )
  ).rows;
  const byTenant = new Map<number, Omit<TenantUsage, "quotas" | "flags">>();
  for (const r of rows) {
    const t = byTenant.get(r.tenantId) ?? { tenantId: r.tenantId, tenant: r.tenant, plan: r.plan, usage: {}, collectedAt: new Date(r.collected).toISOString() };
    t.usage[r.metric] = Number(r.value);
    byTenant.set(r.tenantId, t);
  }
  const weeks = weeksIn(from, to);
  const tenants = [...byTenant.values()].map((t) => {
    const p = config.plans[t.plan];
    const quotas = { executionsPerMonth: p?.executionsPerMonth ?? null, activeWorkflows: p?.activeWorkflows ?? null, articlesPerWeek: p?.articlesPerWeek ?? null };
    return { ...t, quotas, flags: quotaFlags(t.usage, quotas, weeks) };
  });
  return { period, tenants };
}
