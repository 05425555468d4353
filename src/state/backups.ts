// Backups: one row per backup run of one tenant. The row outlives the tenant (restore after
// delete), so it names the tenant by slug as well as by id.

import type { Queryable } from "./db.js";

export type BackupStatus = "running" | "done" | "failed" | "deleted";
/** why a backup was taken; `pre-restore` copies are never picked as "the newest backup" */
export type BackupReason = "manual" | "scheduled" | "pre-restore" | "pre-migrate" | "pre-upgrade" | "final";

export interface BackupRow {
  id: string;
  tenantId: number | null;
  tenantSlug: string;
  /** where the archive lives: a path or s3://bucket/key */
  location: string;
  sizeBytes: number | null;
  sha256: string | null;
  n8nVersion: string | null;
  status: BackupStatus;
  reason: BackupReason;
  error: string | null;
  manifest: Record<string, unknown>;
  createdAt: Date;
  finishedAt: Date | null;
  verifiedAt: Date | null;
}

export interface NewBackup {
  id: string;
  tenantId?: number | null;
  tenantSlug: string;
  location: string;
  n8nVersion?: string | null;
  manifest?: Record<string, unknown>;
  reason?: BackupReason;
}

const COLUMNS = `id, tenant_id as "tenantId", tenant_slug as "tenantSlug", location, size_bytes as "sizeBytes",
  sha256, n8n_version as "n8nVersion", status, reason, error, manifest, created_at as "createdAt",
  finished_at as "finishedAt", verified_at as "verifiedAt"`;

/** Records a backup as it starts (status running). */
export async function insertBackup(q: Queryable, b: NewBackup): Promise<BackupRow> {
  const r = await q.query<BackupRow>(
    `insert into backups (id, tenant_id, tenant_slug, location, n8n_version, manifest, reason)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7) returning ${COLUMNS}`,
    [b.id, b.tenantId ?? null, b.tenantSlug, b.location, b.n8nVersion ?? null, JSON.stringify(b.manifest ?? {}), b.reason ?? "manual"],
  );
  return r.rows[0]!;
}

/**
 * Completes a backup that is still `running`. Throws when it is not: a run that another
 * process already declared failed (cleanupInterrupted, a deadline) must not turn it `done`.
 */
export async function completeBackup(
  q: Queryable,
  id: string,
  done: { sizeBytes: number; sha256: string; location?: string; manifest?: Record<string, unknown> },
): Promise<void> {
  const r = await q.query(
    `update backups set status = 'done', finished_at = now(), size_bytes = $2, sha256 = $3,
            location = coalesce($4, location), manifest = manifest || $5::jsonb
      where id = $1 and status = 'running'`,
    [id, done.sizeBytes, done.sha256, done.location ?? null, JSON.stringify(done.manifest ?? {})],
  );
  if (r.rowCount === 0) {
    const { ConflictError } = await import("../errors.js");
    throw new ConflictError(`backup ${id} is no longer running (another btw declared it failed); it was not recorded as done`, { code: "backup-not-running" });
  }
}

export async function failBackup(q: Queryable, id: string, error: string): Promise<void> {
  await q.query(`update backups set status = 'failed', finished_at = now(), error = $2 where id = $1`, [id, error]);
}

export async function markBackupVerified(q: Queryable, id: string): Promise<void> {
  await q.query(`update backups set verified_at = now() where id = $1`, [id]);
}

/** After `backup prune` removed the archive; the row stays as history. */
export async function markBackupDeleted(q: Queryable, id: string): Promise<void> {
  await q.query(`update backups set status = 'deleted' where id = $1`, [id]);
}

export async function getBackup(q: Queryable, id: string): Promise<BackupRow | null> {
  const r = await q.query<BackupRow>(`select ${COLUMNS} from backups where id = $1`, [id]);
  return r.rows[0] ?? null;
}

/** Newest first. */
export async function listBackups(
  q: Queryable,
  f: { tenantSlug?: string; status?: BackupStatus; limit?: number; excludeReasons?: BackupReason[] } = {},
): Promise<BackupRow[]> {
  const r = await q.query<BackupRow>(
    `select ${COLUMNS} from backups
      where ($1::text is null or tenant_slug = $1) and ($2::text is null or status = $2)
        and ($4::text[] is null or not (reason = any ($4::text[])))
      order by created_at desc, id desc
      limit $3`,
    [f.tenantSlug ?? null, f.status ?? null, f.limit ?? null, f.excludeReasons ?? null],
  );
  return r.rows;
}

/** A completed backup found in the storage but not in the state (`backup import`). */
export async function insertImportedBackup(
  q: Queryable,
  b: { id: string; tenantId: number | null; tenantSlug: string; location: string; sizeBytes: number; sha256: string; n8nVersion: string | null; manifest: Record<string, unknown>; createdAt: string; finishedAt: string },
): Promise<boolean> {
  const r = await q.query(
    `insert into backups (id, tenant_id, tenant_slug, location, size_bytes, sha256, n8n_version, status, manifest, created_at, finished_at)
     values ($1, $2, $3, $4, $5, $6, $7, 'done', $8::jsonb, $9, $10) on conflict (id) do nothing`,
    [b.id, b.tenantId, b.tenantSlug, b.location, b.sizeBytes, b.sha256, b.n8nVersion, JSON.stringify(b.manifest), b.createdAt, b.finishedAt],
  );
  return r.rowCount > 0;
}
