import type { Ctx } from "../../cli/context.js";
import { planRunner } from "../../config/schema.js";
import { composeDown, composeRm, composeStop, composeUp, dockerUpdateLimits, isNoSuchContainer, tenantProfiles, type ContainerLimits } from "../../core/commands/compose.js";
import { purgeByLabel } from "../../core/commands/tenant-purge.js";
import { tenantLayout, type TenantService } from "../../core/tenant/layout.js";
import { ConflictError, OperationError, UsageError } from "../../errors.js";
import type { Db, Lock } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantRow, TenantStatus } from "../../state/tenants.js";
import { disconnectTenant, syncRoutes } from "../proxy.js";
import { adoptImages, hostFor, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../tenant-context.js";
import { readAllSecrets } from "../tenant-secrets.js";
import { webhookHostOf } from "../../state/tenant-domains.js";

// suspend, resume, set-plan, delete: each under the tenant's lock, each audited, each safe to
// re-run after an interruption (it converges on the target state rather than replaying).

const SUSPEND_FROM: TenantStatus[] = ["active", "suspended"];
const RESUME_FROM: TenantStatus[] = ["suspended", "active"];

/** suspend and resume --dry-run: the run's own refusals, from the state alone, and where it would act. */
export async function planSuspendResume(db: Db, slug: string, verb: "suspend" | "resume"): Promise<{ tenant: TenantRow; server: ServerRow }> {
  const t = await requireTenant(db, slug);
  requireStatus(t, verb === "suspend" ? SUSPEND_FROM : RESUME_FROM, verb);
  return { tenant: t, server: await tenantServer(db, t) };
}

function requireStatus(t: TenantRow, allowed: TenantStatus[], verb: string): void {
  if (!allowed.includes(t.status)) {
    throw new ConflictError(`cannot ${verb} tenant '${t.slug}': it is ${t.status}`, {
      code: "tenant-wrong-status",
      hint: t.status === "failed" || t.status === "provisioning" ? `finish it first: \`btw tenant create ${t.slug} --plan ${t.plan}\`` : `\`btw tenant show ${t.slug}\``,
    });
  }
}

async function withTenant<T>(ctx: Ctx, db: Db, slug: string, fn: (t: TenantRow, lock: Lock) => Promise<T>): Promise<T> {
  const lock = await lockTenant(db, slug);
  try {
    return await fn(await requireTenant(db, slug), lock);
  } finally {
    await lock.release();
  }
}

/** Visitors get the maintenance page (503) first, then the containers stop; data stays. */
export async function suspendTenant(ctx: Ctx, db: Db, slug: string): Promise<TenantRow> {
  return withTenant(ctx, db, slug, async (t) => {
    requireStatus(t, SUSPEND_FROM, "suspend");
    const server = await tenantServer(db, t);
    const host = await hostFor(ctx, server);
    const { updateTenantStatus, getTenant } = await import("../../state/tenants.js");
    await updateTenantStatus(db, t.id, "suspended");
    await syncRoutes(host, db, ctx, server);
    await host.run(composeStop(slug, { services: ["worker", "n8n"] as TenantService[], timeoutSec: 30 }), { timeoutMs: 120_000 });
    await ctx.audit("tenant.suspend", slug, { server: server.name });
    return (await getTenant(db, slug))!;
  });
}

/** Containers up and healthy first, then the route switches back from maintenance. */
export async function resumeTenant(ctx: Ctx, db: Db, slug: string): Promise<TenantRow> {
  return withTenant(ctx, db, slug, async (t) => {
    requireStatus(t, RESUME_FROM, "resume");
    const server = await tenantServer(db, t);
    const host = await hostFor(ctx, server);
    const plan = requirePlan(ctx, t.plan);
    await host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
    // routed only once it answers: n8n mounts its API a few seconds after its readiness
    const { checkN8n } = await import("../backup/restore-data.js");
    await checkN8n(host, slug, undefined);
    await syncRoutes(host, db, ctx, server, [slug]);
    const { updateTenantStatus, getTenant } = await import("../../state/tenants.js");
    await updateTenantStatus(db, t.id, "active");
    await ctx.audit("tenant.resume", slug, { server: server.name });
    return (await getTenant(db, slug))!;
  });
}

export interface SetPlanResult {
  tenant: TenantRow;
  from: string;
  to: string;
  /** "in-place": docker update on running containers; "recreated": the mode changed */
  applied: "in-place" | "recreated" | "unchanged";
}

/**
 * New limits on the running containers (`docker update`, no restart) and in the .env so
 * every later `up` keeps them. A change of mode (regular ↔ queue) needs a recreate.
 */
export async function setTenantPlan(ctx: Ctx, db: Db, slug: string, planName: string): Promise<SetPlanResult> {
  const plan = requirePlan(ctx, planName);
  return withTenant(ctx, db, slug, async (t) => {
    requireStatus(t, ["active", "suspended"], "change the plan of");
    const from = t.plan;
    if (from === planName) return { tenant: t, from, to: planName, applied: "unchanged" as const };
    const oldPlan = requirePlan(ctx, from);
    const server = await tenantServer(db, t);
    const { listServers } = await import("../../state/servers.js");
    const usage = (await listServers(db)).find((s) => s.id === server.id)!;
    if (usage.freeCapacity + t.weight < plan.weight) {
      throw new ConflictError(`server ${server.name} has ${usage.freeCapacity + t.weight} capacity units for ${slug}, plan ${planName} needs ${plan.weight}`, {
        code: "server-full",
        hint: `move the tenant first: \`btw tenant migrate ${slug} --to <server>\``,
      });
    }
    const { resourceShortage } = await import("./placement.js");
    const short = await resourceShortage(ctx, db, server, planName, plan, slug);
    if (short) throw new ConflictError(short, { code: "server-short", hint: `move the tenant first: \`btw tenant migrate ${slug} --to <server>\`, or see \`btw capacity\`` });
    const host = await hostFor(ctx, server);
    const secrets = await readAllSecrets(db, await ctx.master(), t.id);
    const layout = tenantLayout(slug);
    // the tenant's own versions, never config's current ones (versions are state)
    const images = await adoptImages(ctx, db, t);
    const webhookHost = await webhookHostOf(db, t.id);
    await writeTenantFiles(host, slug, envFor(ctx, { slug, plan, timezone: t.timezone, subnet: t.subnet!, images, webhookHost }, secrets));
    let applied: SetPlanResult["applied"];
    if (oldPlan.queueMode !== plan.queueMode) {
      if (t.status === "active") await host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
      // `up` leaves a container of a profile that is no longer enabled: leaving queue mode
      // must remove the worker explicitly.
      if (!plan.queueMode) {
        // its runner first (a stack deployed before runners had containers has none: Compose's
        // rm says "No stopped containers" and exits 0, so any failure is one)
        await host.run(composeRm(slug, ["worker-runner"]), { timeoutMs: 120_000 });
        await host.run(composeRm(slug, ["worker"]), { timeoutMs: 120_000 });
      }
      applied = "recreated";
    } else {
      const limits: Array<[string, ContainerLimits]> = [
        [layout.containers.n8n, plan.n8n],
        [layout.containers.postgres, plan.postgres],
        [layout.containers.redis, plan.redis],
        ...(plan.queueMode ? ([[layout.containers.worker, plan.worker ?? plan.n8n]] as Array<[string, ContainerLimits]>) : []),
      ];
      await Promise.all(limits.map(([container, l]) => host.run(dockerUpdateLimits(container, l))));
      // A stack deployed before the runners had their own containers has none to update (its
      // runner is n8n's child, inside n8n's limits; the next `up` creates them with the new
      // .env): "no such container" is that. Any other failure is one.
      const runners = [layout.containers.runner, ...(plan.queueMode ? [layout.containers["worker-runner"]] : [])];
      await Promise.all(
        runners.map(async (container) => {
          const r = await host.run(dockerUpdateLimits(container, planRunner(plan)), { allowFailure: true });
          if (r.exitCode !== 0 && !isNoSuchContainer(r.stderr)) {
            throw new OperationError(`cannot change the limits of ${container} on ${server.name}: ${r.stderr.trim().split("\n").pop()}`, { code: "runner-limits" });
          }
        }),
      );
      applied = "in-place";
      // n8n reads its execution retention at start: a changed one needs n8n recreated
      if (t.status === "active" && (oldPlan.executionRetentionDays !== plan.executionRetentionDays || oldPlan.executionRetentionCount !== plan.executionRetentionCount)) {
        await host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
        applied = "recreated";
      }
    }
    const { setTenantPlan: savePlan, getTenant } = await import("../../state/tenants.js");
    await savePlan(db, t.id, planName, plan.weight);
    // WF3's schedule follows the plan's articles per week: re-deployed now (under our lock)
    let workflows: string[] = [];
    if (t.status === "active" && oldPlan.articlesPerWeek !== plan.articlesPerWeek) {
      const { HostPool, withTenantN8n } = await import("../workflows/tenant.js");
      const { deployWorkflows } = await import("../workflows/deploy.js");
      const after = (await getTenant(db, slug))!;
      const report = await withTenantN8n(ctx, db, new HostPool(ctx), after, ({ api, secrets }) => deployWorkflows(ctx, db, after, api, secrets), { readyTimeoutMs: 120_000 });
      workflows = report.items.filter((i) => i.applied).map((i) => i.key);
    }
    await ctx.audit("tenant.set-plan", slug, { before: { plan: from }, after: { plan: planName }, applied, workflows });
    return { tenant: (await getTenant(db, slug))!, from, to: planName, applied };
  });
}

/**
 * Without purge: out of service — route removed, containers removed, data (volumes, files,
 * secrets) kept, status `deleting`; the name and subnet stay reserved. With purge: volumes,
 * networks, files and secrets go too, the row becomes history (`deleted`) and the subnet is
 * released. The audit rows stay either way.
 */
export interface DeleteOptions {
  purge: boolean;
  /** purge without the final backup (the command asks --yes for it) */
  noFinalBackup?: boolean;
  onStep?: (s: string) => void;
}

export async function deleteTenant(ctx: Ctx, db: Db, slug: string, o: DeleteOptions): Promise<TenantRow & { finalBackup?: string | null }> {
  const purge = o.purge;
  const step = o.onStep ?? (() => {});
  return withTenant(ctx, db, slug, async (t, lock) => {
    if (t.status === "restoring" || t.status === "migrating") {
      throw new ConflictError(`cannot delete tenant '${slug}': it is ${t.status}`, { code: "tenant-wrong-status", hint: `finish or roll back the ${t.status === "restoring" ? "restore" : "migration"} first` });
    }
    // a migrate rollback stopped after its switch left a stack on the migration's target: the
    // purge would leave it behind, so `--rollback` finishes first (refused before anything is
    // backed up or removed)
    const migrate = purge ? await import("./migrate/cleanup.js") : null;
    const journal = purge ? await import("./migrate/journal.js") : null;
    const migration = journal ? await journal.migrationStateOf(db, t) : null;
    if (migration?.kind === "rollback-unfinished") throw migrate!.unfinishedRollbackError(slug, migration.migration.details, `purge ${slug}`);
    const server = await tenantServer(db, t);
    const host = await hostFor(ctx, server);
    await host.ssh.connect(); // an unreachable server changes nothing
    const { updateTenantStatus, getTenant } = await import("../../state/tenants.js");
    let finalBackup: string | null = null;
    if (purge && !o.noFinalBackup) {
      // No path removes data that is not in a completed backup: a final one first, unless a
      // completed backup was taken after the tenant went out of service (nothing changed since).
      finalBackup = await finalBackupOf(ctx, db, t, server, lock, step);
    }
    if (migration?.kind === "source-kept") {
      step(`remove the migration source kept on ${migration.migration.details.from}`);
      await migrate!.removeKeptSource(ctx, db, slug, migration.migration.details.fromServerId);
    }
    await updateTenantStatus(db, t.id, "deleting");
    await syncRoutes(host, db, ctx, server);
    // edge mode: the name leaves the edge tables too; an edge proxy that cannot be reached
    // does not stop the delete (its stale route leads to a server that answers 404; `btw
    // status` shows the drift, `btw edge sync` removes it)
    const { syncEdgeAfterChange } = await import("../edge/switch.js");
    await syncEdgeAfterChange(ctx, db).catch((e: unknown) => ctx.out.warn(`the edge still routes ${slug}: ${(e as Error).message.split("\n")[0]}; run \`btw edge sync\``));
    await disconnectTenant(host, slug);
    const layout = tenantLayout(slug);
    const hasFiles = (await host.run(["test", "-f", layout.composeFile], { allowFailure: true })).exitCode === 0;
    if (hasFiles) await host.run(composeDown(slug, { volumes: purge }), { timeoutMs: 180_000 });
    if (purge) {
      // Volumes and networks by label too: whatever a half-finished create left behind.
      await host.run(purgeByLabel(slug));
      await host.removeTree(layout.dir);
      const { deleteTenantSecrets } = await import("../../state/tenant-secrets.js");
      const { deleteTenantDomains } = await import("../../state/tenant-domains.js");
      await db.transaction(async (tx) => {
        await deleteTenantSecrets(tx, t.id);
        // its custom domains are free for another tenant (the audit rows keep the history)
        await deleteTenantDomains(tx, t.id);
        await updateTenantStatus(tx, t.id, "deleted");
      });
    }
    await ctx.audit(purge ? "tenant.purge" : "tenant.delete", slug, { server: server.name, purge, finalBackup, ...(purge && o.noFinalBackup ? { noFinalBackup: true } : {}) });
    return { ...(await getTenant(db, slug, { includeDeleted: true }))!, finalBackup };
  });
}

/**
 * The id of a completed backup holding the tenant's last data: an existing one taken after
 * it went out of service (`deleting`, nothing written since), or a new one (reason `final`).
 * A stack taken out of service has no containers: its database is started alone and n8n's
 * container created (not started) over the kept volume for the backup to read.
 */
async function finalBackupOf(ctx: Ctx, db: Db, t: TenantRow, server: ServerRow, lock: Lock, step: (s: string) => void): Promise<string> {
  const { listBackups } = await import("../../state/backups.js");
  if (t.status === "deleting") {
    const [recent] = await listBackups(db, { tenantSlug: t.slug, status: "done", limit: 1 });
    if (recent && recent.tenantId === t.id && recent.createdAt.getTime() > t.updatedAt.getTime()) {
      step(`final backup: ${recent.id}, taken after ${t.slug} went out of service`);
      return recent.id;
    }
  }
  const { backupTenant, openServerSession, storageFor } = await import("../backup/tenant.js");
  const session = await openServerSession(ctx, server);
  if (t.status !== "active") {
    step("start the database alone (and create n8n's container over its volume) for the final backup");
    const plan = requirePlan(ctx, t.plan);
    const { composeCreateN8n, composeUpDatabase } = await import("../../core/backup/commands.js");
    const ready = await session.host.run(composeUpDatabase(t.slug), { allowFailure: true, timeoutMs: 240_000 });
    const created = ready.exitCode === 0 ? await session.host.run(composeCreateN8n(t.slug, plan), { allowFailure: true, timeoutMs: 120_000 }) : ready;
    if (created.exitCode !== 0) {
      throw new OperationError(`cannot start ${t.slug}'s database for its final backup: ${created.stderr.trim().split("\n").pop()}`, {
        code: "final-backup-failed",
        hint: `nothing was removed; fix the stack, or purge without a final backup: \`btw tenant delete ${t.slug} --purge --no-final-backup --yes\``,
      });
    }
  }
  step("final backup");
  try {
    const r = await backupTenant(ctx, db, await storageFor(ctx), session, t, { heldLock: lock, reason: "final" });
    return r.id;
  } catch (e) {
    throw new OperationError(`the final backup of ${t.slug} failed: ${(e as Error).message.split("\n")[0]}`, {
      code: "final-backup-failed",
      hint: `nothing was removed; fix the cause and re-run, or purge without it: \`btw tenant delete ${t.slug} --purge --no-final-backup --yes\``,
      cause: e,
    });
  }
}

export function parsePlanArg(value: unknown): string {
  if (typeof value !== "string" || value === "") throw new UsageError("a plan name is required");
  return value;
}
