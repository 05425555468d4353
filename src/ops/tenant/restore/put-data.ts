import type { Ctx } from "../../../cli/context.js";
import type { Plan } from "../../../config/schema.js";
import { execRenameOwner } from "../../../core/backup/commands.js";
import { countMismatches } from "../../../core/backup/checks.js";
import type { BackupWorkflow } from "../../../core/backup/manifest.js";
import { tenantLayout, ownerEmail } from "../../../core/tenant/layout.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { MasterKey } from "../../../secrets/master-key.js";
import type { Db, Queryable } from "../../../state/db.js";
import type { TenantImages, TenantRow } from "../../../state/tenants.js";
import type { ServerSession } from "../../backup/tenant.js";
import { checkN8n, liveCounts, restoreData } from "../../backup/restore-data.js";
import { envFor, writeTenantFiles } from "../../tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "../../tenant-secrets.js";
import { webhookHostOf } from "../../../state/tenant-domains.js";
import type { RestorePlan } from "./plan.js";
import type { Step } from "./result.js";

// The part both modes share: the backup's data into the stack, n8n answering with it, and the
// state's workflow deployments made to say what the restored n8n runs.

/** Puts the backup's data into the stack on the server and checks n8n answers with it. */
export async function putData(ctx: Ctx, db: Db, storage: BackupStorage, session: ServerSession, p: RestorePlan, master: MasterKey, tenant: TenantRow, plan: Plan, images: TenantImages, step: Step) {
  const backup = p.backup!;
  // the backup's n8n version starts (its database is at that version's migrations); the
  // tenant's row records it — an upgrade is a separate, explicit step
  const { setTenantImages } = await import("../../../state/tenants.js");
  // in place: the tenant's own Postgres image and volume (a dump restores into a newer
  // major); a re-created stack: the backup's image on the layout's first volume
  images = { ...images, pgdataVolume: images.pgdataVolume ?? tenantLayout(p.target).volumes.pgdata };
  await setTenantImages(db, tenant.id, images);
  if (images.n8n !== ctx.config.images.n8n) step(`n8n runs the backup's version ${images.n8n}; \`btw upgrade n8n --tenant ${p.target}\` brings it to ${ctx.config.images.n8n}`);
  const secrets = await readAllSecrets(db, master, tenant.id);
  const layout = tenantLayout(p.target);
  step("ship compose file and .env");
  await session.host.mkdir(layout.dir, "0700");
  await writeTenantFiles(session.host, p.target, envFor(ctx, { slug: p.target, plan, timezone: tenant.timezone, subnet: tenant.subnet!, images, webhookHost: await webhookHostOf(db, tenant.id) }, secrets));
  const renamed = p.target !== backup.tenantSlug;
  const manifest = await restoreData({
    session, slug: p.target, plan, storage, key: p.key!, master, backupId: backup.id, onStep: step,
    ...(renamed
      ? {
          beforeStart: async () => {
            const { execText } = await import("../../../remote/backup-exec.js");
            await execText(session.docker, layout.containers.postgres, execRenameOwner(ownerEmail(backup.tenantSlug, ctx.config.domain), ownerEmail(p.target, ctx.config.domain)), "rename the owner");
          },
        }
      : {}),
  });
  step("wait for n8n and check its API with the restored key");
  await checkN8n(session.host, p.target, secrets.get(N8N_API_KEY));
  const { repointRestoredCredential } = await import("../secrets-rotate.js");
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
  const { currentWorkflowDeployments, recordWorkflowDeployment, setWorkflowDeploymentStatus } = await import("../../../state/workflow-deployments.js");
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
