import type { Ctx } from "../../cli/context.js";
import { decidePrune } from "../../core/backup/retention.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { BackupRow } from "../../state/backups.js";
import type { Db } from "../../state/db.js";

// `backup prune`: the retention decision (core/backup/retention.ts) applied to the completed
// backups; a pruned backup's object is deleted and its row kept as history (`deleted`).

export interface PrunePlan {
  keep: Array<{ id: string; tenant: string; createdAt: Date; reasons: string[] }>;
  remove: Array<{ id: string; tenant: string; createdAt: Date; location: string; purged: boolean }>;
}

export async function planPrune(ctx: Ctx, db: Db): Promise<PrunePlan> {
  const { listBackups } = await import("../../state/backups.js");
  const rows = await listBackups(db, { status: "done" });
  // per backup: its tenant row purged (status deleted) since when; grouped per tenant row, so
  // a purged tenant's backups and those of a new tenant of the same name are apart
  const purged = new Map(
    (await db.query<{ id: number; at: Date }>(`select id, updated_at as at from tenants where status = 'deleted'`)).rows.map((r) => [Number(r.id), r.at]),
  );
  const d = decidePrune(
    rows.map((r: BackupRow) => ({
      id: r.id,
      tenant: `${r.tenantSlug}#${r.tenantId ?? "?"}`,
      slug: r.tenantSlug,
      createdAt: r.createdAt,
      location: r.location,
      verified: r.verifiedAt !== null,
      purgedAt: r.tenantId !== null ? (purged.get(Number(r.tenantId)) ?? null) : null,
    })),
    ctx.config.backup.retention,
  );
  return {
    keep: d.keep.map(({ id, slug, createdAt, reasons }) => ({ id, tenant: slug, createdAt, reasons })),
    remove: d.remove.map(({ id, slug, createdAt, location, purgedAt }) => ({ id, tenant: slug, createdAt, location, purged: purgedAt != null })),
  };
}

export async function applyPrune(db: Db, storage: BackupStorage, plan: PrunePlan): Promise<{ removed: string[]; failed: Array<{ id: string; error: string }> }> {
  const { markBackupDeleted } = await import("../../state/backups.js");
  const removed: string[] = [];
  const failed: Array<{ id: string; error: string }> = [];
  for (const b of plan.remove) {
    try {
      const key = storage.keyOf(b.location);
      if (!key) throw new Error(`${b.location} is outside the configured storage ${storage.root}`);
      await storage.delete(key);
      await markBackupDeleted(db, b.id);
      removed.push(b.id);
    } catch (e) {
      failed.push({ id: b.id, error: (e as Error).message.split("\n")[0]! });
    }
  }
  return { removed, failed };
}
