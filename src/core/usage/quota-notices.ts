// Quota notices (issue 16): which of a month's quota flags still have to be told to the
// operator, and what the notice says. Once per (period, tenant, metric, level): a tenant that
// jumps from under 80 % to over 100 % gets the 100 % notice only. Pure.

import type { Notice } from "../notify/message.js";
import type { QuotaFlag } from "./usage.js";

export interface TenantFlags {
  tenantId: number;
  tenant: string;
  plan: string;
  flags: readonly QuotaFlag[];
}

export interface PendingNotice {
  tenantId: number;
  tenant: string;
  plan: string;
  flag: QuotaFlag;
}

export const noticeKey = (period: string, tenantId: number, metric: string, level: string) => `${period}|${tenantId}|${metric}|${level}`;

/** The flags not yet notified (`sent` holds noticeKey()s), in tenant order. */
export function pendingNotices(period: string, tenants: readonly TenantFlags[], sent: ReadonlySet<string>): PendingNotice[] {
  const out: PendingNotice[] = [];
  for (const t of tenants) {
    for (const flag of t.flags) {
      if (!sent.has(noticeKey(period, t.tenantId, flag.metric, flag.level))) out.push({ tenantId: t.tenantId, tenant: t.tenant, plan: t.plan, flag });
    }
  }
  return out;
}

const metricWords: Record<string, string> = {
  "executions.total": "executions this month",
  "workflows.active": "published workflows",
  "articles.published": "articles published this month",
};

export function quotaNotice(period: string, p: PendingNotice, at: Date): Notice {
  const month = period.slice(0, 7);
  const what = metricWords[p.flag.metric] ?? p.flag.metric;
  const reached = p.flag.level === "100%" ? "has reached" : "is at 80 % of";
  const subject = `[btw] ${p.tenant} ${reached} its ${p.plan} quota of ${what} (${month})`;
  const text = [
    `Tenant ${p.tenant} (plan ${p.plan}): ${p.flag.value} ${what} of ${p.flag.quota} (${Math.round(p.flag.ratio * 100)} %) in ${month}.`,
    p.flag.level === "100%" ? "Consider `btw tenant set-plan` or, for published workflows, `btw usage report --enforce`." : "",
    `Look: btw usage report --month ${month} --tenant ${p.tenant}`,
  ]
    .filter(Boolean)
    .join("\n");
  const report = JSON.stringify({ period: month, tenant: p.tenant, plan: p.plan, ...p.flag }, null, 2) + "\n";
  return {
    event: p.flag.level === "100%" ? "quota.100" : "quota.80",
    job: "usage",
    exitCode: 0,
    subject,
    text,
    failedTenants: [],
    report: { filename: `quota-${p.tenant}-${month}-${p.flag.metric}-${p.flag.level === "100%" ? "100" : "80"}.json`, content: report },
    at,
  };
}
