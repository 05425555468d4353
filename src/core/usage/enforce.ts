// `usage report --enforce` (issue 16): which published workflows to unpublish when a tenant
// has more than its plan's active-workflow quota. The rule: btw's own (WF1–WF3, known by the
// n8n ids btw deployed) are never touched; of the customer's, the newest (by creation, then
// by id) are unpublished first, until the count is at the quota. When btw's own alone exceed
// the quota the excess cannot be met and is said. Pure.

export interface PublishedWorkflow {
  id: string;
  name: string;
  createdAt?: string | undefined;
}

export interface EnforceSelection<W extends PublishedWorkflow> {
  unpublish: W[];
  /** published workflows over the quota that stay (btw's own) */
  unmet: number;
}

export function selectToUnpublish<W extends PublishedWorkflow>(published: readonly W[], ownIds: ReadonlySet<string>, quota: number | null): EnforceSelection<W> {
  if (quota === null) return { unpublish: [], unmet: 0 };
  const excess = published.length - quota;
  if (excess <= 0) return { unpublish: [], unmet: 0 };
  const time = (w: W) => (w.createdAt ? Date.parse(w.createdAt) : Number.NEGATIVE_INFINITY);
  const customer = published
    .filter((w) => !ownIds.has(w.id))
    .sort((a, b) => time(b) - time(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const unpublish = customer.slice(0, excess);
  return { unpublish, unmet: excess - unpublish.length };
}
