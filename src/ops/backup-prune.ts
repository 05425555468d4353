import type { Ctx } from "../cli/context.js";
import { decidePrune } from "../core/backup/retention.js";
import type { BackupStorage } from "../remote/backup-storage.js";
import type { BackupRow } from "../state/backups.js";
import type { Db } from "../state/db.js";

// `backup prune`: the retention decision (core/backup/retention.ts) applied to the completed
// backups; a pruned backup's object is deleted and its row kept as history (`deleted`).

export interface PrunePlan {
  keep: Array<{ id: string; tenant: string; createdAt: Date; reasons: string[] }>;
  remove: Array<{ id: string; tenant: string; createdAt: Date; location: string }>;
}

export async function planPrune(ctx: Ctx, db: Db): Promise<PrunePlan> {
  const { listBackups } = await import("../state/backups.js");
  const rows = await listBackups(db, { status: "done" });
  const d = decidePrune(
    rows.map((r: BackupRow) => ({ id: r.id, tenant: r.tenantSlug, createdAt: r.createdAt, location: r.location })),
    ctx.config.backup.retention,
  );
  return {
    keep: d.keep.map(({ id, tenant, createdAt, reasons }) => ({ id, tenant, createdAt, reasons })),
    remove: d.remove.map(({ id, tenant, createdAt, location }) => ({ id, tenant, createdAt, location })),
  };
}

export async function applyPrune(db: Db, storage: BackupStorage, plan: PrunePlan): Promise<{ removed: string[]; failed: Array<{ id: string; error: string }> }> {
  const { markBackupDeleted } = await import("../state/backups.js");
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
