// Quota notices sent (migration 012): claimed before sending, so a threshold of a month is
// announced once even when two `usage collect` runs overlap.

import type { Queryable } from "./db.js";
import type { Delivery } from "./job-runs.js";

export interface QuotaNoticeKey {
  /** first day of the month, YYYY-MM-01 */
  period: string;
  tenantId: number;
  metric: string;
  level: "80%" | "100%";
}

export interface QuotaNoticeRow extends QuotaNoticeKey {
  tenantSlug: string;
  value: number;
  quota: number;
  deliveries: Delivery[];
  notifiedAt: Date;
}

/** True when this call took the notice (nobody sent it before); false when it was already sent. */
export async function claimQuotaNotice(q: Queryable, k: QuotaNoticeKey, facts: { tenantSlug: string; value: number; quota: number }): Promise<boolean> {
  const r = await q.query(
    `insert into quota_notices (period, tenant_id, tenant_slug, metric, level, value, quota) values ($1::date, $2, $3, $4, $5, $6, $7)
     on conflict (period, tenant_id, metric, level) do nothing returning 1`,
    [k.period, k.tenantId, facts.tenantSlug, k.metric, k.level, facts.value, facts.quota],
  );
  return r.rows.length === 1;
}

export async function recordQuotaDeliveries(q: Queryable, k: QuotaNoticeKey, deliveries: Delivery[]): Promise<void> {
  await q.query(`update quota_notices set deliveries = $5::jsonb where period = $1::date and tenant_id = $2 and metric = $3 and level = $4`, [
    k.period,
    k.tenantId,
    k.metric,
    k.level,
    JSON.stringify(deliveries),
  ]);
}

/** Gives a claimed notice back (no channel took it): the next run sends it again. */
export async function releaseQuotaNotice(q: Queryable, k: QuotaNoticeKey): Promise<void> {
  await q.query(`delete from quota_notices where period = $1::date and tenant_id = $2 and metric = $3 and level = $4`, [k.period, k.tenantId, k.metric, k.level]);
}

export async function listQuotaNotices(q: Queryable, period: string): Promise<QuotaNoticeRow[]> {
  const r = await q.query<QuotaNoticeRow & { period: string }>(
    `select to_char(period, 'YYYY-MM-DD') as period, tenant_id::int as "tenantId", tenant_slug as "tenantSlug", metric, level, value::int as value, quota::int as quota,
            deliveries, notified_at as "notifiedAt"
       from quota_notices where period = $1::date order by tenant_slug, metric, level`,
    [period],
  );
  return r.rows;
}
