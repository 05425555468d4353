import type { RestoreSource } from "../../../core/backup/restore-choice.js";
import type { Db } from "../../../state/db.js";
import type { OperationRow } from "../../../state/operations.js";
import type { TenantStatus } from "../../../state/tenants.js";

// The journal of `btw restore` (operations, kind tenant.restore): its steps (restore, rollback,
// recreate), what each row keeps, and the readers that tell what an unfinished one was doing.

export const RESTORE_KIND = "tenant.restore";
/**
 * The journal step of a restore onto a new, purged or failed name: started with the tenant row
 * it registers (one transaction), it names the backup and the tenant whose data it brings back.
 */
export const RECREATE_STEP = "recreate";

export interface RecreateDetails {
  backup: string;
  /** the tenant the restored name meant (RestoreSource.tenantId) */
  source: number | null;
}

export interface RestoreDetails {
  backup: string;
  priorStatus: TenantStatus;
  safetyBackup: string | null;
  server: string;
}

/**
 * The tenant a name means for a restore from it: its live row, else its last purged one. A row
 * that a restore onto the name registered and did not finish stands for the tenant that
 * restore brings back (its journal names it and the backup): the same `restore` again finishes
 * it with the same backup.
 */
export async function restoreSourceOf(db: Db, slug: string): Promise<{ source: RestoreSource; unfinished: string | null }> {
  const { getTenant } = await import("../../../state/tenants.js");
  const t = await getTenant(db, slug, { includeDeleted: true });
  if (t && (t.status === "provisioning" || t.status === "failed")) {
    const { lastStep } = await import("../../../state/operations.js");
    const op = await lastStep(db, t.id, RESTORE_KIND, RECREATE_STEP);
    if (op && op.status !== "done") {
      const d = op.details as Partial<RecreateDetails>;
      return { source: { slug, tenantId: d.source ?? null }, unfinished: d.backup ?? null };
    }
  }
  return { source: { slug, tenantId: t?.id ?? null }, unfinished: null };
}

export async function lastRestore(db: Db, tenantId: number): Promise<(OperationRow & { details: RestoreDetails }) | null> {
  const { lastStep } = await import("../../../state/operations.js");
  const op = await lastStep(db, tenantId, RESTORE_KIND, "restore");
  return op && op.status !== "done" ? (op as OperationRow & { details: RestoreDetails }) : null;
}
