import type { Ctx } from "../../../cli/context.js";
import { composeDown, composeStop, composeUp, tenantProfiles } from "../../../core/commands/compose.js";
import { tenantLayout } from "../../../core/tenant/layout.js";
import { unavailabilityWindow } from "../../../core/tenant/migration-window.js";
import { ConflictError, OperationError } from "../../../errors.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { Db, Lock } from "../../../state/db.js";
import type { TenantRow } from "../../../state/tenants.js";
import { backupTenant, openServerSession, type ServerSession } from "../../backup/tenant.js";
import { connectTenant, syncRoutes } from "../../proxy.js";
import type { EdgeTarget } from "../../edge/switch.js";
import { checkN8n } from "../../backup/restore-data.js";
import { adoptImages, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../../tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "../../tenant-secrets.js";
import { webhookHostOf } from "../../../state/tenant-domains.js";
import { finishRollbackHint, MIGRATE_KIND, migrationStateOf, reached, unfinishedMigration, type MigrateResult, type RollbackDetails, type RollbackOp, type Step } from "./journal.js";
import { runMigration, undoBeforeSwitch } from "./run.js";
import { allocateOn, edgeTargetsFor, removeStack } from "./servers.js";

// `tenant migrate --rollback`: back to the kept source (journal step rollback: started → switched).

/**
 * Back to the kept source of a done migration: the maintenance page and a safety backup on
 * the target, the kept stack started on the source, then the switch — the tenant row moved
 * back and the rollback's journal row marked `switched` in one transaction — then the routes
 * and the target's stack removed (its data is in the safety backup). Failed or killed after
 * the switch, the same command finishes it (resumeRollback); before it, it starts over.
 */
export async function rollbackMigration(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, step: Step): Promise<MigrateResult> {
  const t0 = Date.now();
  const lock = await lockTenant(db, slug);
  try {
    let tenant = await requireTenant(db, slug);
    const unfinished = await unfinishedMigration(db, tenant.id);
    if (unfinished && !reached(unfinished.details, "switched")) {
      // killed before the switch: the source still holds the data; undo what was started
      const d = unfinished.details;
      const { getServer } = await import("../../../state/servers.js");
      const [source, target] = [(await getServer(db, d.fromServerId))!, (await getServer(db, d.toServerId))!];
      const [src, dst] = await Promise.all([openServerSession(ctx, source), openServerSession(ctx, target)]);
      step(`undo the interrupted migration (at ${d.phase}): remove the target stack on ${target.name}, ${slug} back on ${source.name}`);
      await undoBeforeSwitch(ctx, db, src, dst, slug, requirePlan(ctx, tenant.plan), d.priorStatus ?? "active", tenant.id);
      const { updateStepDetails, failStep } = await import("../../../state/operations.js");
      await updateStepDetails(db, unfinished.id, { phase: "rolled-back" });
      if (unfinished.status === "running") await failStep(db, unfinished.id, "interrupted; rolled back").catch(() => {});
      await ctx.audit("tenant.migrate.rollback", slug, { from: target.name, to: source.name, phase: d.phase });
      return { tenant: slug, from: target.name, to: source.name, backup: null, finalBackup: null, seconds: (Date.now() - t0) / 1000, downtimeSeconds: null, unavailable: null, edgeProxies: null };
    }
    if (unfinished) {
      // switched but not finished: finish it first, then go back like after any migration
      await runMigration(ctx, db, storage, slug, unfinished, lock, step, t0);
      tenant = await requireTenant(db, slug);
    }
    const state = await migrationStateOf(db, tenant);
    if (state.kind === "rollback-unfinished") return await resumeRollback(ctx, db, tenant, state.rollback as RollbackOp, lock, step, t0);
    if (state.kind === "none") throw new ConflictError(`tenant ${slug} has no migration to roll back`, { code: "no-migration", hint: `\`btw tenant show ${slug}\`` });
    const m = state.migration;
    const { getServer } = await import("../../../state/servers.js");
    const current = await tenantServer(db, tenant);
    if (current.id !== m.details.toServerId) throw new ConflictError(`tenant ${slug} is on ${current.name}, not on ${m.details.to} where it was migrated`, { code: "migrate-moved" });
    const source = await getServer(db, m.details.fromServerId);
    if (!source) throw new ConflictError(`the source server of ${slug}'s migration is no longer registered`, { code: "migrate-source-gone" });
    const plan = requirePlan(ctx, tenant.plan);
    const suspended = tenant.status === "suspended";
    const [src, dst] = await Promise.all([openServerSession(ctx, source), openServerSession(ctx, current)]);
    const edges = await edgeTargetsFor(ctx);
    const layout = tenantLayout(slug);
    const kept = await src.host.run(["test", "-f", layout.composeFile], { allowFailure: true });
    if (kept.exitCode !== 0) throw new ConflictError(`the source stack of ${slug} is gone from ${source.name}`, { code: "migrate-source-gone" });
    const { startStep, finishStep, failStep, updateStepDetails } = await import("../../../state/operations.js");
    const started: RollbackDetails = { ...m.details, rollbackPhase: "started" };
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "rollback", tenantId: tenant.id, serverId: source.id, details: { ...started } });
    const { updateTenantStatus, assignTenantServer, getTenant } = await import("../../../state/tenants.js");
    let switched = false;
    try {
      step(`maintenance page on ${current.name}, n8n stopped`);
      const down = Date.now();
      await updateTenantStatus(db, tenant.id, "migrating");
      await syncRoutes(dst.host, db, ctx, current);
      await dst.host.run(composeStop(slug, { services: ["worker", "n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });
      step(`safety backup of what ${current.name} holds (changes since the migration)`);
      const safety = await backupTenant(ctx, db, storage, dst, tenant, { heldLock: lock, reason: "pre-restore" });
      await updateStepDetails(db, op.id, { safetyBackup: safety.id });

      step(`start the kept stack on ${source.name}`);
      const subnet = await allocateOn(ctx, db, source, src.host, slug);
      const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
      await writeTenantFiles(src.host, slug, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet, images: await adoptImages(ctx, db, tenant), webhookHost: await webhookHostOf(db, tenant.id) }, secrets));
      await src.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
      await checkN8n(src.host, slug, secrets.get(N8N_API_KEY));

      step(`switch the route back to ${source.name}`);
      await lock.check();
      // The journal says "switched" in the transaction that moves the tenant back: whatever
      // fails after it, a re-run reads a rollback to finish — never a kept source to clean up
      // (that would be the stack the tenant runs on now).
      await db.transaction(async (tx) => {
        await assignTenantServer(tx, tenant.id, source.id, subnet);
        await updateTenantStatus(tx, tenant.id, suspended ? "suspended" : "active");
        await updateStepDetails(tx, op.id, { rollbackPhase: "switched", switchedBackAt: new Date().toISOString() });
      });
      switched = true;
      const routed = await finishRollback(ctx, db, { src, dst, slug, suspended, edges, safetyBackup: safety.id, step });
      await finishStep(db, op.id, { safetyBackup: safety.id });
      await ctx.audit("tenant.migrate.rollback", slug, { from: current.name, to: source.name, safetyBackup: safety.id });
      return {
        tenant: (await getTenant(db, slug))!.slug, from: current.name, to: source.name, backup: safety.id, finalBackup: null, seconds: (Date.now() - t0) / 1000, downtimeSeconds: (routed - down) / 1000,
        unavailable: unavailabilityWindow(new Date(down).toISOString(), routed), edgeProxies: edges === null ? null : edges.map((e) => e.name),
      };
    } catch (e) {
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      if (!switched) {
        await src.host.run(composeDown(slug, { volumes: false }), { allowFailure: true, timeoutMs: 180_000 }).catch(() => {});
        await updateTenantStatus(db, tenant.id, tenant.status).catch(() => {});
        await dst.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { allowFailure: true, timeoutMs: 330_000 }).catch(() => {});
        await syncRoutes(dst.host, db, ctx, current).catch(() => {});
      }
      await failStep(db, op.id, message).catch(() => {});
      throw new OperationError(`rollback of ${slug} failed: ${message}`, {
        code: "rollback-failed",
        hint: switched
          ? `${slug} runs on ${source.name} again; ${finishRollbackHint(slug)} (the routes, and the stack left on ${current.name})`
          : `${slug} is still on ${current.name}; fix the cause and re-run \`btw tenant migrate ${slug} --rollback --yes\``,
        cause: e,
      });
    }
  } finally {
    await lock.release();
  }
}

/**
 * After the rollback's switch (the state names the source again), every step idempotent:
 * the source's route, the edge's, the target's proxy, then the target's stack removed (`dst`
 * null: its server is no longer registered, nothing btw can reach is left). Returns when the
 * route was back.
 */
async function finishRollback(
  ctx: Ctx, db: Db,
  o: { src: ServerSession; dst: ServerSession | null; slug: string; suspended: boolean; edges: EdgeTarget[] | null; safetyBackup: string | undefined; step: Step },
): Promise<number> {
  const { src, dst, slug } = o;
  await connectTenant(src.host, slug);
  await syncRoutes(src.host, db, ctx, src.server, o.suspended ? [] : [slug]);
  if (o.edges !== null) {
    o.step(`switch the edge route back to ${src.server.name}`);
    const { switchEdgeRoutes } = await import("../../edge/switch.js");
    await switchEdgeRoutes(ctx, db, o.edges);
  }
  const routed = Date.now();
  if (dst) {
    await syncRoutes(dst.host, db, ctx, dst.server);
    o.step(`remove the stack on ${dst.server.name} (its data is in ${o.safetyBackup ? `backup ${o.safetyBackup}` : "the rollback's safety backup"})`);
    await removeStack(dst, slug);
  }
  return routed;
}

/**
 * A rollback that failed or was killed after its switch: the tenant runs on the source again
 * (its row says so, in the transaction that journaled the switch). The rest is done under a
 * new journal row (a finished row is never rewritten); the one it resumes is closed.
 */
async function resumeRollback(ctx: Ctx, db: Db, tenant: TenantRow, prev: RollbackOp, lock: Lock, step: Step, t0: number): Promise<MigrateResult> {
  const slug = tenant.slug;
  const d = prev.details;
  const { getServer } = await import("../../../state/servers.js");
  const source = await getServer(db, d.fromServerId);
  if (!source || tenant.serverId !== source.id) {
    throw new ConflictError(`tenant ${slug} is not on ${d.from}, where its unfinished rollback moved it`, { code: "migrate-moved", hint: `\`btw tenant show ${slug}\` shows where it runs and its journal` });
  }
  const target = await getServer(db, d.toServerId);
  const suspended = tenant.status === "suspended";
  const [src, dst] = await Promise.all([openServerSession(ctx, source), target ? openServerSession(ctx, target) : null]);
  const edges = await edgeTargetsFor(ctx);
  const { startStep, finishStep, failStep } = await import("../../../state/operations.js");
  if (prev.status === "running") await failStep(db, prev.id, "interrupted after the switch; finished by a re-run").catch(() => {});
  const resumed: RollbackDetails & { resumes: number } = { ...d, rollbackPhase: "switched", resumes: prev.id };
  const op = await startStep(db, { kind: MIGRATE_KIND, step: "rollback", tenantId: tenant.id, serverId: source.id, details: { ...resumed } });
  step(`finish the rollback to ${source.name} (it stopped after the switch)${target ? "" : `; ${d.to} is no longer registered: nothing to remove there`}`);
  try {
    await lock.check();
    if (!suspended) {
      step(`the stack on ${source.name} serves`);
      await src.host.run(composeUp(slug, { profiles: tenantProfiles(requirePlan(ctx, tenant.plan)), wait: 300 }), { timeoutMs: 330_000 });
      await checkN8n(src.host, slug, undefined);
    }
    await finishRollback(ctx, db, { src, dst, slug, suspended, edges, safetyBackup: d.safetyBackup, step });
    await finishStep(db, op.id);
    await ctx.audit("tenant.migrate.rollback", slug, { from: d.to, to: source.name, safetyBackup: d.safetyBackup ?? null, resumed: prev.id });
    return {
      tenant: slug, from: d.to, to: source.name, backup: d.safetyBackup ?? null, finalBackup: null, seconds: (Date.now() - t0) / 1000, downtimeSeconds: null, unavailable: null,
      edgeProxies: edges === null ? null : edges.map((e) => e.name),
    };
  } catch (e) {
    const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
    await failStep(db, op.id, message).catch(() => {});
    throw new OperationError(`rollback of ${slug} failed: ${message}`, { code: "rollback-failed", hint: `${slug} runs on ${source.name}; ${finishRollbackHint(slug)}`, cause: e });
  }
}
