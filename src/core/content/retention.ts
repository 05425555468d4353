// Retention of the tenant's `content` schema (issue 16, GDPR): keywords and clusters older
// than the plan's contentRetentionDays are deleted; articles are kept, and so is the cluster
// an article belongs to (content.articles.cluster_id cascades from clusters: deleting such a
// cluster would delete the article). Why articles stay: they are the customer's published
// work (on its WordPress), not personal data; the seed's GDPR section targets execution logs
// (90 days) and personal data, and keywords/clusters are WF1/WF2's working material. Pure.

/**
 * One statement: the deletions, then "<keywords> <clusters>" deleted. `days` is an integer
 * checked here (it becomes a literal). Keywords newer than the horizon that pointed at a
 * deleted cluster are unlinked by the foreign key (on delete set null).
 */
export function contentPruneSql(days: number): string {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new RangeError(`contentPruneSql: days must be an integer 1–36500, got ${days}`);
  const horizon = `now() - make_interval(days => ${days})`;
  return [
    `with k as (delete from content.keywords where created_at < ${horizon} returning 1),`,
    `c as (delete from content.clusters cl where cl.created_at < ${horizon}`,
    "and not exists (select 1 from content.articles a where a.cluster_id = cl.id) returning 1)",
    "select (select count(*) from k) || ' ' || (select count(*) from c)",
  ].join(" ");
}

export function parsePruneCounts(stdout: string): { keywords: number; clusters: number } | null {
  const m = /^(\d+) (\d+)$/.exec(stdout.trim());
  return m ? { keywords: Number(m[1]), clusters: Number(m[2]) } : null;
}

/** Tenants to prune and their horizon: plans with no retention (null) keep their content. */
export function prunePlan<T extends { slug: string; plan: string }>(
  tenants: readonly T[],
  plans: Readonly<Record<string, { contentRetentionDays: number | null }>>,
): { prune: Array<{ tenant: T; days: number }>; keep: Array<{ tenant: T; reason: string }> } {
  const prune: Array<{ tenant: T; days: number }> = [];
  const keep: Array<{ tenant: T; reason: string }> = [];
  for (const t of tenants) {
    const p = plans[t.plan];
    if (!p) keep.push({ tenant: t, reason: `plan '${t.plan}' is not in the configuration` });
    else if (p.contentRetentionDays === null) keep.push({ tenant: t, reason: `plan '${t.plan}' keeps content forever` });
    else prune.push({ tenant: t, days: p.contentRetentionDays });
  }
  return { prune, keep };
}
