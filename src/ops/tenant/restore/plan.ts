import type { Ctx } from "../../../cli/context.js";
import { backupChoiceError, chooseRestoreBackup, type RestoreSource } from "../../../core/backup/restore-choice.js";
import type { BackupManifest } from "../../../core/backup/manifest.js";
import { nameProblem, TENANT_NAME } from "../../../core/names.js";
import { choosePlacement, placementError, placementServer } from "../../../core/placement.js";
import { ConflictError, NotFoundError, OperationError, UsageError } from "../../../errors.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { BackupRow } from "../../../state/backups.js";
import type { Db } from "../../../state/db.js";
import type { OperationRow } from "../../../state/operations.js";
import type { ServerRow } from "../../../state/servers.js";
import type { TenantRow } from "../../../state/tenants.js";
import { openBackupRow } from "../../backup/restore-data.js";
import { requirePlan } from "../../tenant-context.js";
import { lastRestore, restoreSourceOf, type RestoreDetails } from "./journal.js";

// What a restore will do, decided before anything changes: the backup, the tenant it goes into,
// the server, and the mode. `--dry-run` prints this plan (describe.ts); the run applies it.

export interface RestoreRequest {
  source: string;
  backupId?: string;
  as?: string;
  server?: string;
  /** undo an interrupted in-place restore: the safety backup goes back */
  rollback?: boolean;
  /** in place, without the safety backup (the current data is known to be lost) */
  noSafetyBackup?: boolean;
}

export interface RestorePlan {
  /** null: rollback of a restore killed before its safety backup — nothing to put back */
  backup: BackupRow | null;
  key: string | null;
  target: string;
  /**
   * in-place: over a live tenant; resume: an interrupted in-place restore finished; rollback:
   * one undone; recreate: a new, purged or failed tenant's name
   */
  mode: "in-place" | "resume" | "rollback" | "recreate";
  existing: TenantRow | null;
  server: ServerRow;
  planName: string;
  /** the interrupted restore's journal row (resume, rollback) */
  previous: (OperationRow & { details: RestoreDetails }) | null;
  noSafetyBackup: boolean;
  /** the name restored from and the tenant it means (the backup was chosen by its id) */
  source: RestoreSource;
  /** the backup, named with --backup, is of another tenant of the name: its id → the name's */
  crossed: { from: number | null; to: number } | null;
}

/**
 * The backup a restore from `source` takes: the one named (`id`, --backup), or the newest
 * completed one of the tenant the name means — by its id, never by the name alone (a purged
 * customer's backups outlive it under the name). See core/backup/restore-choice.ts.
 */
export async function chooseBackup(db: Db, source: RestoreSource, id?: string): Promise<{ backup: BackupRow; crossed: RestorePlan["crossed"] }> {
  const { getBackup, listBackups } = await import("../../../state/backups.js");
  let requested: BackupRow | undefined;
  if (id) {
    const b = await getBackup(db, id);
    if (!b) throw new NotFoundError("backup", id, { hint: "`btw backup list` shows the backups" });
    requested = b;
  }
  const rows = requested ? [] : await listBackups(db, { tenantSlug: source.slug, status: "done", excludeReasons: ["pre-restore"] });
  const choice = chooseRestoreBackup(source, rows, requested);
  if (!choice.ok) throw backupChoiceError(choice);
  return { backup: choice.backup, crossed: choice.crossed };
}

export async function planRestore(ctx: Ctx, db: Db, storage: BackupStorage, req: RestoreRequest): Promise<RestorePlan> {
  const target = req.as ?? req.source;
  const problem = nameProblem(target, TENANT_NAME);
  if (problem) throw new UsageError(problem, { code: "invalid-tenant-name" });
  const { getTenant } = await import("../../../state/tenants.js");
  const { getServer, getServerByName, listServers } = await import("../../../state/servers.js");
  const existing = await getTenant(db, target);
  const noSafetyBackup = req.noSafetyBackup === true;
  const withBackup = async (b: BackupRow | null) => ({ backup: b, key: b ? await openBackupRow(db, storage, b) : null });

  if (existing?.status === "restoring") {
    if (req.as) throw new ConflictError(`tenant '${target}' is in the middle of a restore`, { code: "tenant-restoring", hint: `finish it: \`btw restore ${target}\`, or undo it: \`btw restore ${target} --rollback\`` });
    const previous = await lastRestore(db, existing.id);
    if (!previous) throw new OperationError(`tenant '${target}' is restoring but its restore journal is missing`, { code: "restore-journal-missing", hint: `\`btw tenant show ${target}\`` });
    const server = (await getServer(db, existing.serverId!))!;
    // the backups named here come from the journal or the operator: the tenant's own id decides only whether it crossed
    const source = { slug: target, tenantId: existing.id };
    if (req.rollback) {
      const safety = previous.details.safetyBackup;
      if (safety === "skipped") throw new ConflictError(`the restore of ${target} ran without a safety backup: there is nothing to roll back to`, { code: "no-safety-backup", hint: `finish it: \`btw restore ${target}\`` });
      const b = safety ? (await chooseBackup(db, source, safety)).backup : null;
      return { ...(await withBackup(b)), target, mode: "rollback", existing, server, planName: existing.plan, previous, noSafetyBackup, source, crossed: null };
    }
    const { backup: b, crossed } = await chooseBackup(db, source, req.backupId ?? previous.details.backup);
    return { ...(await withBackup(b)), target, mode: "resume", existing, server, planName: existing.plan, previous, noSafetyBackup, source, crossed };
  }
  if (req.rollback) {
    throw new ConflictError(`tenant '${target}' has no interrupted restore to roll back`, { code: "no-restore", hint: `to go back to an earlier backup: \`btw restore ${target} --backup <id>\`` });
  }
  const { source, unfinished } = await restoreSourceOf(db, req.source);
  const { backup, crossed } = await chooseBackup(db, source, req.backupId ?? unfinished ?? undefined);
  const { key } = await withBackup(backup);
  const chosen = { source, crossed };
  const manifest = backup.manifest as Partial<BackupManifest>;
  const planName = manifest.plan && ctx.config.plans[manifest.plan] ? manifest.plan : ctx.config.defaults.plan;
  if (existing && (existing.status === "active" || existing.status === "suspended")) {
    if (req.as) {
      throw new ConflictError(`tenant '${target}' already exists; --as restores into a new name`, { code: "tenant-exists", hint: `restore in place with \`btw restore ${target}\`, or pick another name` });
    }
    if (req.server) throw new UsageError("--server only places a re-created tenant; to move one use `btw tenant migrate`");
    const server = (await getServer(db, existing.serverId!))!;
    return { backup, key, target, mode: "in-place", existing, server, planName: existing.plan, previous: null, noSafetyBackup, ...chosen };
  }
  if (existing && existing.status !== "provisioning" && existing.status !== "failed") {
    throw new ConflictError(`tenant '${target}' is ${existing.status}`, {
      code: "tenant-wrong-status",
      hint: existing.status === "migrating" ? `finish or undo its migration first (\`btw tenant migrate ${target}\`)` : `\`btw tenant delete ${target} --purge\` first`,
    });
  }
  if (existing) {
    // a create or a restore onto this name that did not finish: finish it where the row is
    const server = (await getServer(db, existing.serverId!))!;
    return { backup, key, target, mode: "recreate", existing, server, planName: existing.plan, previous: null, noSafetyBackup, ...chosen };
  }
  const plan = requirePlan(ctx, planName);
  const servers = await listServers(db);
  const preferred = req.server ?? (manifest.server && servers.some((s) => s.name === manifest.server && s.freeCapacity >= plan.weight && placementServer(s).status === "ready" && placementServer(s).isolated) ? manifest.server : undefined);
  const { placementInput } = await import("../placement.js");
  const input = { ...(await placementInput(ctx, db, servers, planName, plan)), weight: plan.weight };
  let placement = choosePlacement({ ...input, ...(preferred ? { requested: preferred } : {}) });
  // the backup's own server is a preference, not a request: short of a resource there, btw chooses
  if (!placement.ok && placement.reason === "server-short" && !req.server) placement = choosePlacement(input);
  if (!placement.ok) throw placementError(placement);
  return { backup, key, target, mode: "recreate", existing: null, server: (await getServerByName(db, placement.server))!, planName, previous: null, noSafetyBackup, ...chosen };
}
