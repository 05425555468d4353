// Custom domains of tenants (migration 014): one module for the table's queries.

import type { Queryable } from "./db.js";

export interface TenantDomainRow {
  id: number;
  tenantId: number;
  tenantSlug: string;
  hostname: string;
  /** n8n's WEBHOOK_URL is https://<hostname>/ */
  webhook: boolean;
  createdAt: Date;
}

const COLUMNS = `d.id::int as id, d.tenant_id::int as "tenantId", t.slug as "tenantSlug", d.hostname, d.webhook, d.created_at as "createdAt"`;

export async function listTenantDomains(q: Queryable, f: { tenantId?: number } = {}): Promise<TenantDomainRow[]> {
  const r = await q.query<TenantDomainRow>(
    `select ${COLUMNS} from tenant_domains d join tenants t on t.id = d.tenant_id
      where ($1::bigint is null or d.tenant_id = $1) order by t.slug, d.hostname`,
    [f.tenantId ?? null],
  );
  return r.rows;
}

export async function getTenantDomain(q: Queryable, hostname: string): Promise<TenantDomainRow | null> {
  const r = await q.query<TenantDomainRow>(`select ${COLUMNS} from tenant_domains d join tenants t on t.id = d.tenant_id where d.hostname = $1`, [hostname]);
  return r.rows[0] ?? null;
}

/** Inserts the domain; null when the hostname is already taken (by any tenant). */
export async function insertTenantDomain(q: Queryable, d: { tenantId: number; hostname: string; webhook: boolean }): Promise<TenantDomainRow | null> {
  const r = await q.query<{ id: number }>(`insert into tenant_domains (tenant_id, hostname, webhook) values ($1, $2, $3) on conflict (hostname) do nothing returning id::int as id`, [
    d.tenantId,
    d.hostname,
    d.webhook,
  ]);
  return r.rows.length === 1 ? getTenantDomain(q, d.hostname) : null;
}

/** Moves the webhook flag to `hostname` (null: no custom webhook host for the tenant). */
export async function setWebhookDomain(q: Queryable, tenantId: number, hostname: string | null): Promise<void> {
  await q.query(`update tenant_domains set webhook = false where tenant_id = $1 and webhook and hostname is distinct from $2`, [tenantId, hostname]);
  if (hostname !== null) await q.query(`update tenant_domains set webhook = true where tenant_id = $1 and hostname = $2`, [tenantId, hostname]);
}

export async function deleteTenantDomain(q: Queryable, tenantId: number, hostname: string): Promise<boolean> {
  const r = await q.query(`delete from tenant_domains where tenant_id = $1 and hostname = $2 returning 1`, [tenantId, hostname]);
  return r.rows.length === 1;
}

/** The tenant's webhook host, or null when n8n uses <tenant>.<domain>. */
export async function webhookHostOf(q: Queryable, tenantId: number): Promise<string | null> {
  const r = await q.query<{ hostname: string }>(`select hostname from tenant_domains where tenant_id = $1 and webhook`, [tenantId]);
  return r.rows[0]?.hostname ?? null;
}

/** Custom hostnames by tenant id, for rendering routes. */
export async function domainsByTenant(q: Queryable, tenantIds?: readonly number[]): Promise<Map<number, string[]>> {
  const r = await q.query<{ tenantId: number; hostname: string }>(
    `select tenant_id::int as "tenantId", hostname from tenant_domains where ($1::bigint[] is null or tenant_id = any($1)) order by hostname`,
    [tenantIds ? [...tenantIds] : null],
  );
  const m = new Map<number, string[]>();
  for (const row of r.rows) m.set(row.tenantId, [...(m.get(row.tenantId) ?? []), row.hostname]);
  return m;
}

/** A purged tenant's domains go with it (its hostnames become free). */
export async function deleteTenantDomains(q: Queryable, tenantId: number): Promise<number> {
  const r = await q.query(`delete from tenant_domains where tenant_id = $1 returning 1`, [tenantId]);
  return r.rows.length;
}
