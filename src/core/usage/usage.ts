// Usage metering (issue 16): the one query run in each tenant's own database, its parse, and
// the comparison with the plan's quotas. Pure.

import { UsageError } from "../../errors.js";

export const USAGE_METRICS = ["executions.success", "executions.error", "executions.other", "executions.total", "workflows.active", "articles.published"] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

/** "2026-11" → its bounds (UTC); the current month by default. */
export function monthPeriod(month: string | undefined, now: Date = new Date()): { period: string; from: string; to: string } {
  const m = month ?? now.toISOString().slice(0, 7);
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(m);
  if (!match) throw new UsageError(`--month ${JSON.stringify(month)} is not a month like 2026-11`);
  const y = Number(match[1]);
  const mo = Number(match[2]);
  const next = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, "0")}`;
  return { period: `${m}-01`, from: `${m}-01T00:00:00Z`, to: `${next}-01T00:00:00Z` };
}

/**
 * One statement, one row: executions of the period by status, published workflows now,
 * articles published in the period (content.articles; 0 when the content schema is absent).
 * The bounds are literals checked by monthPeriod (digits and dashes only).
 */
export function usageSql(from: string, to: string): string {
  if (!/^\d{4}-\d{2}-01T00:00:00Z$/.test(from) || !/^\d{4}-\d{2}-01T00:00:00Z$/.test(to)) throw new RangeError("usageSql: bounds must come from monthPeriod");
  const inPeriod = (col: string) => `${col} >= '${from}'::timestamptz and ${col} < '${to}'::timestamptz`;
  return [
    "select",
    `(select count(*) from execution_entity where ${inPeriod('"startedAt"')} and status = 'success')`,
    `|| ' ' || (select count(*) from execution_entity where ${inPeriod('"startedAt"')} and status in ('error', 'crashed', 'canceled'))`,
    `|| ' ' || (select count(*) from execution_entity where ${inPeriod('"startedAt"')})`,
    "|| ' ' || (select count(*) from workflow_entity where active)",
    // through query_to_xml: a plain subquery naming content.articles is refused at parse time
    // when the table is missing (an older tenant, a restore of an older backup), CASE or not
    `|| ' ' || (case when to_regclass('content.articles') is null then 0 else (xpath('/row/c/text()', query_to_xml($q$select count(*) as c from content.articles where ${inPeriod("published_at")}$q$, false, true, '')))[1]::text::bigint end)`,
  ].join(" ");
}

export function parseUsage(stdout: string): Record<UsageMetric, number> | null {
  const m = /^(\d+) (\d+) (\d+) (\d+) (\d+)$/.exec(stdout.trim());
  if (!m) return null;
  const [success, error, total, active, articles] = m.slice(1).map(Number) as [number, number, number, number, number];
  return {
    "executions.success": success,
    "executions.error": error,
    "executions.other": total - success - error,
    "executions.total": total,
    "workflows.active": active,
    "articles.published": articles,
  };
}

export interface Quotas {
  executionsPerMonth: number | null;
  activeWorkflows: number | null;
  articlesPerWeek: number | null;
}

export interface QuotaFlag {
  metric: UsageMetric;
  value: number;
  quota: number;
  /** value / quota */
  ratio: number;
  level: "80%" | "100%";
}

/** Metrics at 80 % and at (or over) 100 % of the plan's quota; unlimited quotas never flag. */
export function quotaFlags(usage: Partial<Record<UsageMetric, number>>, q: Quotas, weeksInPeriod: number): QuotaFlag[] {
  const out: QuotaFlag[] = [];
  const check = (metric: UsageMetric, quota: number | null) => {
    const value = usage[metric];
    if (quota === null || value === undefined) return;
    const ratio = Math.round((value / quota) * 1000) / 1000;
    if (ratio >= 1) out.push({ metric, value, quota, ratio, level: "100%" });
    else if (ratio >= 0.8) out.push({ metric, value, quota, ratio, level: "80%" });
  };
  check("executions.total", q.executionsPerMonth);
  check("workflows.active", q.activeWorkflows);
  check("articles.published", q.articlesPerWeek === null ? null : Math.round(q.articlesPerWeek * weeksInPeriod));
  return out;
}

/** Weeks in a month period (for articles per week → per month). */
export function weeksIn(from: string, to: string): number {
  return (Date.parse(to) - Date.parse(from)) / (7 * 86_400_000);
}
