// What btw publishes as its own metrics, read from the state in three queries (not one per
// tenant): the newest successful and verified backup of each live tenant, the outcome of
// each tenant's newest verify, the n8n image it runs; the newest run of each job.

import type { Queryable } from "./db.js";

export interface TenantFacts {
  tenant: string;
  server: string | null;
  n8nImage: string | null;
  lastBackupAt: Date | null;
  lastVerifiedAt: Date | null;
  /** the newest verify's outcome; null when none ran */
  lastVerifyOk: boolean | null;
  /** its volumes' bytes in the newest resource sample that has them (`usage collect`); null: never measured */
  volumeBytes: number | null;
}

/** Live tenants only: a deleted tenant's stale backups are no alarm. */
export async function tenantFacts(q: Queryable): Promise<TenantFacts[]> {
  const r = await q.query<TenantFacts>(
    `select t.slug as tenant, s.name as server, t.n8n_image as "n8nImage",
            b.last_backup as "lastBackupAt", b.last_verified as "lastVerifiedAt", v.ok as "lastVerifyOk",
            d.disk_bytes::float8 as "volumeBytes"
       from tenants t
       left join servers s on s.id = t.server_id
       left join (select tenant_slug, max(finished_at) filter (where status = 'done') as last_backup,
                         max(verified_at) filter (where status = 'done') as last_verified
                    from backups group by tenant_slug) b on b.tenant_slug = t.slug
       left join (select distinct on (tenant_slug) tenant_slug, ok
                    from backup_verifications order by tenant_slug, at desc, id desc) v on v.tenant_slug = t.slug
       left join (select distinct on (tenant_id) tenant_id, disk_bytes
                    from resource_samples where disk_bytes is not null order by tenant_id, taken_at desc) d on d.tenant_id = t.id
      where t.status not in ('deleting', 'deleted', 'provisioning', 'failed')
      order by t.slug`,
  );
  return r.rows;
}

export async function recordVerification(q: Queryable, v: { backupId: string; tenantSlug: string; ok: boolean; detail?: string | null }): Promise<void> {
  await q.query(`insert into backup_verifications (backup_id, tenant_slug, ok, detail) values ($1, $2, $3, $4)`, [
    v.backupId,
    v.tenantSlug,
    v.ok,
    v.detail ?? null,
  ]);
}
