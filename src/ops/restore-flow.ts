import type { Ctx } from "../cli/context.js";
import type { Plan } from "../config/schema.js";
import { composeDown, composeStop, composeUp, tenantProfiles } from "../core/commands/compose.js";
import { purgeByLabel } from "../core/commands/tenant-purge.js";
import { execRenameOwner } from "../core/backup/commands.js";
import { countMismatches } from "../core/backup/checks.js";
import { backupChoiceError, chooseRestoreBackup, type RestoreSource } from "../core/backup/restore-choice.js";
import type { BackupManifest, BackupWorkflow } from "../core/backup/manifest.js";
import { nameProblem, TENANT_NAME } from "../core/names.js";
import { choosePlacement, placementError, placementServer } from "../core/placement.js";
import { allocateSubnet } from "../core/subnets.js";
import { tenantLayout } from "../core/tenant/layout.js";
import { ConflictError, NotFoundError, OperationError, UsageError } from "../errors.js";
import type { BackupStorage } from "../remote/backup-storage.js";
import type { MasterKey } from "../secrets/master-key.js";
import type { BackupRow } from "../state/backups.js";
import type { Db, Lock, Queryable } from "../state/db.js";
import type { OperationRow } from "../state/operations.js";
import type { ServerRow } from "../state/servers.js";
import type { TenantImages, TenantRow, TenantStatus } from "../state/tenants.js";
import { asset } from "./assets.js";
import { backupTenant, openServerSession, type ServerSession } from "./backup.js";
import { ownerEmail } from "./n8n-bootstrap.js";
import { connectTenant, ensureProxy, syncRoutes } from "./proxy.js";
import { backupImages, checkBackup, checkN8n, liveCounts, openBackupRow, openEscrow, restoreData, restoredSecrets } from "./restore.js";
import { envFor } from "./tenant-create.js";
import { imagesOf, lockTenant, requirePlan } from "./tenant-context.js";
import { GENERATED, N8N_API_KEY, readAllSecrets, storeSecrets } from "./tenant-secrets.js";
import { webhookHostOf } from "../state/tenant-domains.js";

// `btw restore`: a backup back into a tenant stack — the same tenant in place, a purged or
// failed tenant's name, or a new name (--as).
//
// In place, the rule is that the tenant's current data stays in a completed backup until the
// restored stack is ready. We take a safety backup first (reason `pre-restore`) rather than
// restore into new volumes and switch: the tenant stack has one fixed Compose file with fixed
// volume names, and the safety backup reuses the one backup path that is already verified
// end to end (and is what `--rollback` restores). It costs one backup's time before the
// restore. The tenant is `restoring` throughout: the proxy serves the maintenance page,
// `backup all` skips it (so no half-restored stack is ever recorded as a backup), and the
// journal (operations, kind tenant.restore) keeps the backup, the safety backup and the
// status before. Killed at any step, `btw restore <tenant>` finishes with the same backup;
// `btw restore <tenant> --rollback` puts the safety backup back. The tenant ends in the
// status it had before (a suspended tenant stays suspended).

export const RESTORE_KIND = "tenant.restore";
/**
 * The journal step of a restore onto a new, purged or failed name: started with the tenant row
 * it registers (one transaction), it names the backup and the tenant whose data it brings back.
 */
export const RECREATE_STEP = "recreate";

interface RecreateDetails {
  backup: string;
  /** the tenant the restored name meant (RestoreSource.tenantId) */
  source: number | null;
}

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

interface RestoreDetails {
  backup: string;
  priorStatus: TenantStatus;
  safetyBackup: string | null;
  server: string;
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
  const { getBackup, listBackups } = await import("../state/backups.js");
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

/**
 * The tenant a name means for a restore from it: its live row, else its last purged one. A row
 * that a restore onto the name registered and did not finish stands for the tenant that
 * restore brings back (its journal names it and the backup): the same `restore` again finishes
 * it with the same backup.
 */
async function restoreSourceOf(db: Db, slug: string): Promise<{ source: RestoreSource; unfinished: string | null }> {
  const { getTenant } = await import("../state/tenants.js");
  const t = await getTenant(db, slug, { includeDeleted: true });
  if (t && (t.status === "provisioning" || t.status === "failed")) {
    const { lastStep } = await import("../state/operations.js");
    const op = await lastStep(db, t.id, RESTORE_KIND, RECREATE_STEP);
    if (op && op.status !== "done") {
      const d = op.details as Partial<RecreateDetails>;
      return { source: { slug, tenantId: d.source ?? null }, unfinished: d.backup ?? null };
    }
  }
  return { source: { slug, tenantId: t?.id ?? null }, unfinished: null };
}

async function lastRestore(db: Db, tenantId: number): Promise<(OperationRow & { details: RestoreDetails }) | null> {
  const { lastStep } = await import("../state/operations.js");
  const op = await lastStep(db, tenantId, RESTORE_KIND, "restore");
  return op && op.status !== "done" ? (op as OperationRow & { details: RestoreDetails }) : null;
}

export async function planRestore(ctx: Ctx, db: Db, storage: BackupStorage, req: RestoreRequest): Promise<RestorePlan> {
  const target = req.as ?? req.source;
  const problem = nameProblem(target, TENANT_NAME);
  if (problem) throw new UsageError(problem, { code: "invalid-tenant-name" });
  const { getTenant } = await import("../state/tenants.js");
  const { getServer, getServerByName, listServers } = await import("../state/servers.js");
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
  const placement = choosePlacement({
    servers: servers.map(placementServer),
    weight: plan.weight,
    ...(preferred ? { requested: preferred } : {}),
  });
  if (!placement.ok) throw placementError(placement);
  return { backup, key, target, mode: "recreate", existing: null, server: (await getServerByName(db, placement.server))!, planName, previous: null, noSafetyBackup, ...chosen };
}

/** What a crossing restore says before it starts (dry run, prompt, progress); null when it does not cross. */
export function crossingNote(p: Pick<RestorePlan, "backup" | "crossed" | "source">): string | null {
  if (!p.crossed || !p.backup) return null;
  const from = p.crossed.from === null ? "no recorded tenant (imported)" : `tenant id ${p.crossed.from}`;
  return `backup ${p.backup.id} is of another tenant named ${p.source.slug} (${from}), not of the one the name means (id ${p.crossed.to}): restored across ids, as --backup asks`;
}

export function describeRestore(p: RestorePlan) {
  const b = p.backup;
  const crossing = crossingNote(p);
  const steps =
    p.mode === "rollback"
      ? [b ? `put the safety backup ${b.id} back (the data from before the interrupted restore)` : "nothing was replaced yet: start the stack as it is", `status back to ${p.previous!.details.priorStatus}`]
      : [
          ...(crossing ? [crossing] : []),
          "read and check the whole backup (decrypt every chunk, sha256 of each part)",
          ...(p.mode === "recreate"
            ? [`register tenant ${p.target} on ${p.server.name} with the escrowed secrets (N8N_ENCRYPTION_KEY…)`, "remove what a failed create left of the stack", "ship compose file and .env"]
            : [
                "status restoring: maintenance page, excluded from backups",
                p.mode === "resume" && p.previous!.details.safetyBackup ? `safety backup already taken: ${p.previous!.details.safetyBackup}` : p.noSafetyBackup ? "NO safety backup (--no-safety-backup)" : "safety backup of the current data (kept for --rollback)",
              ]),
          "re-create the database and pg_restore the dump",
          "re-create n8n's data volume from the archive",
          "start the stack, wait for n8n, check its API",
          p.mode === "recreate" ? "route it" : `back to its status before (${p.previous?.details.priorStatus ?? p.existing?.status})`,
        ];
  return { backup: b?.id ?? null, createdAt: b?.createdAt ?? null, tenant: p.target, mode: p.mode, server: p.server.name, plan: p.planName, crossed: p.crossed, steps };
}

export interface RestoreResult {
  tenant: string;
  backup: string | null;
  safetyBackup: string | null;
  server: string;
  mode: RestorePlan["mode"];
  status: TenantStatus;
  seconds: number;
  counts: { workflows: number; credentials: number; executions: number } | null;
  mismatches: string[];
}

type Step = (s: string) => void;

export async function executeRestore(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, onStep?: Step): Promise<RestoreResult> {
  const step = onStep ?? ((s: string) => ctx.out.info(`· ${s}`));
  const lock = await lockTenant(db, p.target);
  try {
    const master = await ctx.master();
    const crossing = crossingNote(p);
    if (crossing) step(crossing);
    return p.mode === "recreate" ? await recreate(ctx, db, storage, p, master, step) : await inPlace(ctx, db, storage, p, master, lock, step);
  } finally {
    await lock.release();
  }
}

/** Puts the backup's data into the stack on the server and checks n8n answers with it. */
async function putData(ctx: Ctx, db: Db, storage: BackupStorage, session: ServerSession, p: RestorePlan, master: MasterKey, tenant: TenantRow, plan: Plan, images: TenantImages, step: Step) {
  const backup = p.backup!;
  // the backup's n8n version starts (its database is at that version's migrations); the
  // tenant's row records it — an upgrade is a separate, explicit step
  const { setTenantImages } = await import("../state/tenants.js");
  // in place: the tenant's own Postgres image and volume (a dump restores into a newer
  // major); a re-created stack: the backup's image on the layout's first volume
  images = { ...images, pgdataVolume: images.pgdataVolume ?? tenantLayout(p.target).volumes.pgdata };
  await setTenantImages(db, tenant.id, images);
  if (images.n8n !== ctx.config.images.n8n) step(`n8n runs the backup's version ${images.n8n}; \`btw upgrade n8n --tenant ${p.target}\` brings it to ${ctx.config.images.n8n}`);
  const secrets = await readAllSecrets(db, master, tenant.id);
  const layout = tenantLayout(p.target);
  step("ship compose file and .env");
  await session.host.mkdir(layout.dir, "0700");
  await session.host.writeFile(layout.composeFile, asset("templates/tenant/compose.yml"));
  await session.host.writeFile(layout.envFile, envFor(ctx, { slug: p.target, plan, timezone: tenant.timezone, subnet: tenant.subnet!, images, webhookHost: await webhookHostOf(db, tenant.id) }, secrets), "0600");
  const renamed = p.target !== backup.tenantSlug;
  const manifest = await restoreData({
    session, slug: p.target, plan, storage, key: p.key!, master, backupId: backup.id, onStep: step,
    ...(renamed
      ? {
          beforeStart: async () => {
            const { execText } = await import("../remote/backup-exec.js");
            await execText(session.docker, layout.containers.postgres, execRenameOwner(ownerEmail(backup.tenantSlug, ctx.config.domain), ownerEmail(p.target, ctx.config.domain)), "rename the owner");
          },
        }
      : {}),
  });
  step("wait for n8n and check its API with the restored key");
  await checkN8n(session.host, p.target, secrets.get(N8N_API_KEY));
  const { repointRestoredCredential } = await import("./tenant/secrets-rotate.js");
  if (await repointRestoredCredential(session.host, p.target, master, manifest, secrets, ownerEmail(p.target, ctx.config.domain))) step("n8n's Postgres credential re-pointed at the current database password (rotated since the backup)");
  const counts = await liveCounts(session.docker, p.target).catch(() => null);
  await recordRestoredWorkflows(db, tenant.id, manifest.workflows);
  return { manifest, counts, mismatches: countMismatches(manifest.counts, counts) };
}

/**
 * The state describes what the restored n8n runs: the deployments the backup recorded become
 * current again (origin `restore`); deployments the backup did not have stop being current.
 * Backups of older btw carry none: the rows are left as they are.
 */
export async function recordRestoredWorkflows(db: Db, tenantId: number, workflows: BackupWorkflow[] | undefined): Promise<void> {
  if (!workflows) return;
  const { currentWorkflowDeployments, recordWorkflowDeployment, setWorkflowDeploymentStatus } = await import("../state/workflow-deployments.js");
  await db.transaction(async (tx: Queryable) => {
    const known = new Set(
      (await tx.query<{ sha256: string }>(`select sha256 from workflow_templates where sha256 = any ($1::text[])`, [workflows.map((w) => w.templateSha256).filter(Boolean)])).rows.map((r) => r.sha256),
    );
    for (const cur of await currentWorkflowDeployments(tx, tenantId)) {
      if (!workflows.some((w) => w.key === cur.workflowKey)) await setWorkflowDeploymentStatus(tx, cur.id, "rolled_back");
    }
    for (const w of workflows) {
      await recordWorkflowDeployment(tx, {
        tenantId,
        workflowKey: w.key,
        version: w.version,
        n8nId: w.n8nId,
        checksum: w.checksum,
        templateSha256: w.templateSha256 && known.has(w.templateSha256) ? w.templateSha256 : null,
        origin: "restore",
      });
    }
  });
}

async function inPlace(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, master: MasterKey, lock: Lock, step: Step): Promise<RestoreResult> {
  const t0 = Date.now();
  const { getTenant, updateTenantStatus } = await import("../state/tenants.js");
  const { startStep, finishStep, failStep, updateStepDetails } = await import("../state/operations.js");
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

async function recreate(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, master: MasterKey, step: Step): Promise<RestoreResult> {
  const t0 = Date.now();
  const backup = p.backup!;
  step(`check backup ${backup.id} end to end`);
  const manifest = await checkBackup(storage, p.key!, master, backup.id);
  const escrow = openEscrow(master, manifest);
  const plan = requirePlan(ctx, p.planName);
  const session = await openServerSession(ctx, p.server);
  // never adopt or overwrite what another btw state (or nobody) put under this name there
  const { assertStackOwned } = await import("./stack-ownership.js");
  await assertStackOwned(session.host, { slug: p.target, stateId: ctx.stateId, recorded: p.existing !== null });
  const { getTenant, updateTenantStatus } = await import("../state/tenants.js");
  const { failStep, finishStep, lastStep, startStep } = await import("../state/operations.js");
  const journal: RecreateDetails = { backup: backup.id, source: p.source.tenantId };
  let tenant: TenantRow;
  let op: OperationRow;
  if (p.existing) {
    tenant = p.existing;
    const previous = await lastStep(db, tenant.id, RESTORE_KIND, RECREATE_STEP);
    if (previous?.status === "running") await failStep(db, previous.id, "interrupted: its btw process ended; resumed by a later run").catch(() => {});
    op = await startStep(db, { kind: RESTORE_KIND, step: RECREATE_STEP, tenantId: tenant.id, serverId: p.server.id, details: { ...journal } });
    // A failed create left its own secrets (another N8N_ENCRYPTION_KEY, another database
    // password): the restored data needs the escrowed ones, and the failed create's
    // volumes hold nothing but its own bootstrap, initialised with its password.
    step(`remove what the unfinished create or restore of ${p.target} left on ${p.server.name}`);
    await storeSecrets(db, master, tenant.id, restoredSecrets(escrow));
    const hasFiles = (await session.host.run(["test", "-f", tenantLayout(p.target).composeFile], { allowFailure: true })).exitCode === 0;
    if (hasFiles) await session.host.run(composeDown(p.target, { volumes: true }), { timeoutMs: 180_000 });
    await session.host.run(purgeByLabel(p.target), { timeoutMs: 120_000 });
  } else {
    ({ tenant, op } = await registerRestored(ctx, db, master, p, plan, restoredSecrets(escrow), journal));
  }
  await updateTenantStatus(db, tenant.id, "provisioning");
  try {
    await ensureProxy(session.host, db, ctx, p.server.id);
    const result = await putData(ctx, db, storage, session, p, master, tenant, plan, backupImages(ctx, manifest), step);
    step("route the tenant");
    await connectTenant(session.host, p.target);
    await syncRoutes(session.host, db, ctx, p.server, [p.target]);
    await updateTenantStatus(db, tenant.id, "active");
    await finishStep(db, op.id);
    await ctx.audit("tenant.restore", p.target, { backup: backup.id, from: backup.tenantSlug, mode: p.mode, server: p.server.name, ...crossedAudit(p, tenant) });
    return { tenant: (await getTenant(db, p.target))!.slug, backup: backup.id, safetyBackup: null, server: p.server.name, mode: p.mode, status: "active", seconds: (Date.now() - t0) / 1000, ...result };
  } catch (e) {
    const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
    await updateTenantStatus(db, tenant.id, "failed", { failedStep: "restore", error: message }).catch(() => {});
    await failStep(db, op.id, message).catch(() => {});
    throw new OperationError(`restore of ${p.target} from ${backup.id} failed: ${message}`, {
      code: "restore-failed",
      hint: `fix the cause and re-run \`btw restore ${backup.tenantSlug} --backup ${backup.id}${p.target !== backup.tenantSlug ? ` --as ${p.target}` : ""} --yes\``,
      cause: e,
    });
  }
}

/** The audit's record of a restore across tenant ids: the backup's tenant → the row that got its data. */
function crossedAudit(p: RestorePlan, into: TenantRow): { crossed?: { from: number | null; to: number } } {
  return p.crossed ? { crossed: { from: p.crossed.from, to: into.id } } : {};
}

/**
 * A new tenant row for the restore, placed and given a subnet under the server's lock; its
 * journal row in the same transaction, so a re-run always knows what the row is for.
 */
async function registerRestored(
  ctx: Ctx,
  db: Db,
  master: MasterKey,
  p: RestorePlan,
  plan: Plan,
  secrets: Record<string, string>,
  journal: RecreateDetails,
): Promise<{ tenant: TenantRow; op: OperationRow }> {
  const { insertTenant, usedSubnets } = await import("../state/tenants.js");
  const { listServers } = await import("../state/servers.js");
  const lock = await db.lock({ kind: "server", name: p.server.name }, { timeoutMs: 60_000 });
  try {
    const usage = (await listServers(db)).find((s) => s.id === p.server.id)!;
    if (usage.freeCapacity < plan.weight) {
      throw new ConflictError(`server ${p.server.name} has ${usage.freeCapacity} capacity units left, plan ${p.planName} needs ${plan.weight}`, { code: "server-full" });
    }
    const subnet = allocateSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, await usedSubnets(db, p.server.id));
    if (!subnet) throw new ConflictError(`no free subnet left on ${p.server.name}`, { code: "subnets-exhausted" });
    const manifest = p.backup!.manifest as Partial<BackupManifest>;
    return await db.transaction(async (tx) => {
      const t = await insertTenant(tx, {
        slug: p.target,
        plan: p.planName,
        weight: plan.weight,
        serverId: p.server.id,
        subnet,
        timezone: manifest.timezone ?? ctx.config.defaults.timezone,
        status: "provisioning",
      });
      await storeSecrets(tx, master, t.id, secrets);
      const { startStep } = await import("../state/operations.js");
      const op = await startStep(tx, { kind: RESTORE_KIND, step: RECREATE_STEP, tenantId: t.id, serverId: p.server.id, details: { ...journal } });
      const { appendAudit } = await import("../state/audit.js");
      await appendAudit(tx, { action: "tenant.create", target: p.target, details: { restoredFrom: p.backup!.id, plan: p.planName, server: p.server.name, subnet } });
      return { tenant: t, op };
    });
  } finally {
    await lock.release();
  }
}
