// Which backups `backup prune` keeps: grandfather-father-son per tenant. Of the successful
// backups, keep the newest of each of the last `daily` days that have one, of the last
// `weekly` ISO weeks, and of the last `monthly` months (UTC); a backup kept by any rule stays.
// The newest backup of a tenant is always kept, whatever the numbers say.

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
}

export interface Candidate {
  id: string;
  tenant: string;
  createdAt: Date;
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

export function decidePrune<T extends Candidate>(backups: readonly T[], r: Retention): PruneDecision<T> {
  const byTenant = new Map<string, T[]>();
  for (const b of backups) byTenant.set(b.tenant, [...(byTenant.get(b.tenant) ?? []), b]);
  const keep: Array<T & { reasons: string[] }> = [];
  const remove: T[] = [];
  for (const list of byTenant.values()) {
    const sorted = [...list].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
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
    for (const b of sorted) {
      const why = reasons.get(b.id);
      if (why) keep.push({ ...b, reasons: why });
      else remove.push(b);
    }
  }
  return { keep, remove };
}
