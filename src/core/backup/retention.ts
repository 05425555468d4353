// Which backups `backup prune` keeps: grandfather-father-son per tenant. Of the successful
// backups, keep the newest of each of the last `daily` days that have one, of the last
// `weekly` ISO weeks, and of the last `monthly` months (UTC); a backup kept by any rule stays.
// The newest backup of a tenant, and its newest verified one, are always kept, whatever
// the numbers say. A purged tenant's backups (its final backup included) are all kept for
// `purgedDays` after the purge, then all removed.

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
  /** days a purged tenant's backups outlive the purge; absent: kept like a live tenant's */
  purgedDays?: number;
}

export interface Candidate {
  id: string;
  tenant: string;
  createdAt: Date;
  /** a verify restored it and found it sound */
  verified?: boolean;
  /** when its tenant was purged (null/absent: the tenant lives) */
  purgedAt?: Date | null;
}

export interface PruneDecision<T extends Candidate> {
  keep: Array<T & { reasons: string[] }>;
  remove: T[];
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const month = (d: Date) => d.toISOString().slice(0, 7);

/** ISO 8601 week, e.g. 2026-W01 (weeks start on Monday; week 1 holds the first Thursday). */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

export function decidePrune<T extends Candidate>(backups: readonly T[], r: Retention, now: Date = new Date()): PruneDecision<T> {
  const byTenant = new Map<string, T[]>();
  for (const b of backups) byTenant.set(b.tenant, [...(byTenant.get(b.tenant) ?? []), b]);
  const keep: Array<T & { reasons: string[] }> = [];
  const remove: T[] = [];
  for (const list of byTenant.values()) {
    const sorted = [...list].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
    const purgedAt = sorted.find((b) => b.purgedAt)?.purgedAt ?? null;
    if (purgedAt && r.purgedDays !== undefined) {
      const until = purgedAt.getTime() + r.purgedDays * 86_400_000;
      if (now.getTime() >= until) remove.push(...sorted);
      else keep.push(...sorted.map((b) => ({ ...b, reasons: [`purged tenant, kept until ${new Date(until).toISOString().slice(0, 10)}`] })));
      continue;
    }
    const reasons = new Map<string, string[]>();
    const rule = (name: string, n: number, bucket: (d: Date) => string) => {
      const seen = new Set<string>();
      for (const b of sorted) {
        const k = bucket(b.createdAt);
        if (seen.has(k)) continue;
        if (seen.size >= n) break;
        seen.add(k);
        reasons.set(b.id, [...(reasons.get(b.id) ?? []), `${name} ${k}`]);
      }
    };
    rule("daily", r.daily, day);
    rule("weekly", r.weekly, isoWeek);
    rule("monthly", r.monthly, month);
    if (sorted[0] && !reasons.has(sorted[0].id)) reasons.set(sorted[0].id, ["newest"]);
    const verified = sorted.find((b) => b.verified);
    if (verified && !reasons.has(verified.id)) reasons.set(verified.id, ["newest verified"]);
    for (const b of sorted) {
      const why = reasons.get(b.id);
      if (why) keep.push({ ...b, reasons: why });
      else remove.push(b);
    }
  }
  return { keep, remove };
}
