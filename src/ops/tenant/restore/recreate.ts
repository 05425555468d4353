import type { Ctx } from "../../../cli/context.js";
import type { Plan } from "../../../config/schema.js";
import { composeDown } from "../../../core/commands/compose.js";
import { purgeByLabel } from "../../../core/commands/tenant-purge.js";
import type { BackupManifest } from "../../../core/backup/manifest.js";
import { allocateSubnet } from "../../../core/subnets.js";
import { tenantLayout } from "../../../core/tenant/layout.js";
import { ConflictError, OperationError } from "../../../errors.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { MasterKey } from "../../../secrets/master-key.js";
import type { Db } from "../../../state/db.js";
import type { OperationRow } from "../../../state/operations.js";
import type { TenantRow } from "../../../state/tenants.js";
import { openServerSession } from "../../backup/tenant.js";
import { ensureProxy, syncRoutes } from "../../proxy.js";
import { backupImages, checkBackup, openEscrow, restoredSecrets } from "../../backup/restore-data.js";
import { requirePlan } from "../../tenant-context.js";
import { storeSecrets } from "../../tenant-secrets.js";
import { RECREATE_STEP, RESTORE_KIND, type RecreateDetails } from "./journal.js";
import type { RestorePlan } from "./plan.js";
import { putData } from "./put-data.js";
import { crossedAudit, type RestoreResult, type Step } from "./result.js";

// A restore onto a new, purged or failed name (journal step recreate): the tenant row registered
// with the escrowed secrets and its journal row in one transaction, then the data put back.

export async function recreate(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, master: MasterKey, step: Step): Promise<RestoreResult> {
  const t0 = Date.now();
  const backup = p.backup!;
  step(`check backup ${backup.id} end to end`);
  const manifest = await checkBackup(storage, p.key!, master, backup.id);
  const escrow = openEscrow(master, manifest);
  const plan = requirePlan(ctx, p.planName);
  const session = await openServerSession(ctx, p.server);
  // never adopt or overwrite what another btw state (or nobody) put under this name there
  const { assertStackOwned } = await import("../../stack-ownership.js");
  await assertStackOwned(session.host, { slug: p.target, stateId: ctx.stateId, recorded: p.existing !== null });
  const { getTenant, updateTenantStatus } = await import("../../../state/tenants.js");
  const { failStep, finishStep, lastStep, startStep } = await import("../../../state/operations.js");
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
    // syncRoutes attaches the proxy to the tenant's network first (attachTenantNetworks)
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
  const { insertTenant, usedSubnets } = await import("../../../state/tenants.js");
  const { listServers } = await import("../../../state/servers.js");
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
      const { startStep } = await import("../../../state/operations.js");
      const op = await startStep(tx, { kind: RESTORE_KIND, step: RECREATE_STEP, tenantId: t.id, serverId: p.server.id, details: { ...journal } });
      const { appendAudit } = await import("../../../state/audit.js");
      await appendAudit(tx, { action: "tenant.create", target: p.target, details: { restoredFrom: p.backup!.id, plan: p.planName, server: p.server.name, subnet } });
      return { tenant: t, op };
    });
  } finally {
    await lock.release();
  }
}
