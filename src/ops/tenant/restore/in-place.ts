import type { Ctx } from "../../../cli/context.js";
import { composeStop, composeUp, tenantProfiles } from "../../../core/commands/compose.js";
import type { BackupManifest } from "../../../core/backup/manifest.js";
import { ConflictError, OperationError } from "../../../errors.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { MasterKey } from "../../../secrets/master-key.js";
import type { Db, Lock } from "../../../state/db.js";
import { backupTenant, openServerSession } from "../../backup/tenant.js";
import { connectTenant, syncRoutes } from "../../proxy.js";
import { checkBackup, checkN8n, openEscrow } from "../../backup/restore-data.js";
import { imagesOf, requirePlan } from "../../tenant-context.js";
import { GENERATED, N8N_API_KEY, storeSecrets } from "../../tenant-secrets.js";
import { RESTORE_KIND, type RestoreDetails } from "./journal.js";
import type { RestorePlan } from "./plan.js";
import { putData } from "./put-data.js";
import { crossedAudit, type RestoreResult, type Step } from "./result.js";

// A restore over the tenant that has the name, and its resume and --rollback (journal steps
// restore and rollback): the safety backup first, the tenant `restoring` throughout (execute.ts).

export async function inPlace(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, master: MasterKey, lock: Lock, step: Step): Promise<RestoreResult> {
  const t0 = Date.now();
  const { getTenant, updateTenantStatus } = await import("../../../state/tenants.js");
  const { startStep, finishStep, failStep, updateStepDetails } = await import("../../../state/operations.js");
  // Everything that can be refused is checked before anything changes.
  const tenant = (await getTenant(db, p.target))!;
  if (tenant.status !== p.existing!.status) throw new ConflictError(`tenant ${p.target} changed (now ${tenant.status}) since the restore was planned`, { code: "tenant-changed", hint: "re-run the command" });
  let manifest: BackupManifest | null = null;
  if (p.backup) {
    step(`check backup ${p.backup.id} end to end`);
    manifest = await checkBackup(storage, p.key!, master, p.backup.id);
  }
  const escrow = manifest ? openEscrow(master, manifest) : null;
  const plan = requirePlan(ctx, tenant.plan);
  const session = await openServerSession(ctx, p.server);

  const details: RestoreDetails = p.previous
    ? { ...p.previous.details, ...(p.mode === "resume" && p.backup ? { backup: p.backup.id } : {}) }
    : { backup: p.backup!.id, priorStatus: tenant.status, safetyBackup: p.noSafetyBackup ? "skipped" : null, server: p.server.name };
  if (p.previous?.status === "running") await failStep(db, p.previous.id, "interrupted: its btw process ended; resumed by a later run").catch(() => {});
  const op = await startStep(db, { kind: RESTORE_KIND, step: p.mode === "rollback" ? "rollback" : "restore", tenantId: tenant.id, serverId: p.server.id, details: { ...details } });
  // a rollback's own journal row: a kill during it leaves the restore row to resume from
  const journal = p.mode === "rollback" ? p.previous! : op;
  try {
    if (tenant.status !== "restoring") {
      step("status restoring: maintenance page, excluded from backups");
      await updateTenantStatus(db, tenant.id, "restoring");
      await syncRoutes(session.host, db, ctx, p.server);
    }
    let result: { counts: RestoreResult["counts"]; mismatches: string[] } = { counts: null, mismatches: [] };
    if (p.mode === "rollback" && !p.backup) {
      step("the interrupted restore had not replaced anything yet: start the stack as it is");
      await session.host.run(composeUp(p.target, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
      await checkN8n(session.host, p.target, undefined);
    } else {
      if (p.mode !== "rollback" && details.safetyBackup === null) {
        step("safety backup of the current data (kept for --rollback)");
        const safety = await backupTenant(ctx, db, storage, session, tenant, { heldLock: lock, reason: "pre-restore" });
        details.safetyBackup = safety.id;
        await updateStepDetails(db, journal.id, { safetyBackup: safety.id });
      }
      await lock.check();
      // The restored database holds the owner and API key of the backup's time, and its
      // credentials are encrypted with the backup's key: those three come from the escrow.
      const keep = [GENERATED.encryptionKey, GENERATED.ownerPassword, N8N_API_KEY].filter((k) => escrow!.has(k));
      await storeSecrets(db, master, tenant.id, Object.fromEntries(keep.map((k) => [k, escrow!.get(k)!])));
      const own = imagesOf(ctx, tenant);
      result = await putData(ctx, db, storage, session, p, master, tenant, plan, { ...own, n8n: manifest!.images?.n8n ?? own.n8n }, step);
    }
    await lock.check();
    step(`back to ${details.priorStatus}`);
    if (details.priorStatus === "suspended") {
      await session.host.run(composeStop(p.target, { services: ["worker", "n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });
    }
    await connectTenant(session.host, p.target);
    await updateTenantStatus(db, tenant.id, details.priorStatus);
    await syncRoutes(session.host, db, ctx, p.server);
    await finishStep(db, op.id, { ...details });
    if (journal !== op) await failStep(db, journal.id, "rolled back", { rolledBackBy: op.id }).catch(() => {});
    await ctx.audit(p.mode === "rollback" ? "tenant.restore.rollback" : "tenant.restore", p.target, {
      backup: p.backup?.id ?? null,
      safetyBackup: details.safetyBackup,
      mode: p.mode,
      server: p.server.name,
      ...crossedAudit(p, tenant),
    });
    return { tenant: p.target, backup: p.backup?.id ?? null, safetyBackup: details.safetyBackup, server: p.server.name, mode: p.mode, status: (await getTenant(db, p.target))!.status, seconds: (Date.now() - t0) / 1000, ...result };
  } catch (e) {
    const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
    await failStep(db, op.id, message, { ...details }).catch(() => {});
    const safety = details.safetyBackup && details.safetyBackup !== "skipped" ? ` (its data before the restore is in backup ${details.safetyBackup})` : "";
    throw new OperationError(`restore of ${p.target} failed: ${message}`, {
      code: "restore-failed",
      hint: `${p.target} stays 'restoring' behind the maintenance page${safety}: fix the cause and re-run \`btw restore ${p.target} --yes\` to finish, or \`btw restore ${p.target} --rollback --yes\` to undo`,
      cause: e,
    });
  }
}
