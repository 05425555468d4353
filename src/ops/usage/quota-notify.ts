// Quota notices: each tenant at 80 % or 100 % of a quota is told to the operator's channels
// (`notifications`) once per threshold per month. A notice is claimed in the state before it
// is sent and given back when no channel took it, so the next run retries it.

import type { Ctx } from "../../cli/context.js";
import { noticeKey, pendingNotices, quotaNotice, type TenantFlags } from "../../core/usage/quota-notices.js";
import type { Db } from "../../state/db.js";
import type { Delivery } from "../../state/job-runs.js";
import { channelsOf, notify, type NotifyDeps } from "../notify.js";

export interface QuotaNoticeSent {
  tenant: string;
  metric: string;
  level: "80%" | "100%";
  deliveries: Delivery[];
}

export async function notifyQuotas(ctx: Pick<Ctx, "config">, db: Db, period: string, tenants: readonly TenantFlags[], deps: NotifyDeps, now = new Date()): Promise<QuotaNoticeSent[]> {
  if (channelsOf(ctx.config.notifications).length === 0) return [];
  const { claimQuotaNotice, listQuotaNotices, recordQuotaDeliveries, releaseQuotaNotice } = await import("../../state/quota-notices.js");
  const sent = new Set((await listQuotaNotices(db, period)).map((r) => noticeKey(period, r.tenantId, r.metric, r.level)));
  const out: QuotaNoticeSent[] = [];
  for (const p of pendingNotices(period, tenants, sent)) {
    const key = { period, tenantId: p.tenantId, metric: p.flag.metric, level: p.flag.level };
    if (!(await claimQuotaNotice(db, key, { tenantSlug: p.tenant, value: p.flag.value, quota: p.flag.quota }))) continue;
    const deliveries = await notify(ctx.config.notifications, quotaNotice(period, p, now), deps);
    if (deliveries.some((d) => d.ok)) await recordQuotaDeliveries(db, key, deliveries);
    else await releaseQuotaNotice(db, key);
    out.push({ tenant: p.tenant, metric: p.flag.metric, level: p.flag.level, deliveries });
  }
  return out;
}
