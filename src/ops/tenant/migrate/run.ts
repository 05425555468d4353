import type { Ctx } from "../../../cli/context.js";
import { composeDown, composeStop, composeUp, tenantProfiles } from "../../../core/commands/compose.js";
import { tenantLayout } from "../../../core/tenant/layout.js";
import type { Plan } from "../../../config/schema.js";
import { ConflictError, LockLostError, OperationError } from "../../../errors.js";
import type { BackupStorage } from "../../../remote/backup-storage.js";
import type { Db, Lock } from "../../../state/db.js";
import type { OperationRow } from "../../../state/operations.js";
import type { TenantStatus } from "../../../state/tenants.js";
import { backupTenant, openServerSession, type ServerSession } from "../../backup/tenant.js";
import { connectTenant, ensureProxy, syncRoutes } from "../../proxy.js";
import { checkN8n, restoreData } from "../../backup/restore-data.js";
import { adoptImages, lockTenant, requirePlan, requireTenant, envFor, writeTenantFiles } from "../../tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "../../tenant-secrets.js";
import { webhookHostOf } from "../../../state/tenant-domains.js";
import { MIGRATE_KIND, reached, unfinishedMigration, type MigrateResult, type MigrationDetails, type MigrationPhase, type Step } from "./journal.js";
import { preflightMigrate } from "./preflight.js";
import { allocateOn, disconnectTenantQuiet, edgeTargetsFor, ensureImages, removeStack } from "./servers.js";

// `tenant migrate <name> --to <server>`: preflight (target reachable, active, with capacity,
// a subnet and the images), a fresh backup while the tenant still serves, then the
// maintenance page on the source and n8n stopped there, a final backup of the quiet
// database, its restore on the target, n8n's readiness, and the switch: the state moves the
// tenant, the target's proxy routes it and the source's stops. The source stack is taken
// down but its volumes and files stay for `--rollback`; `--cleanup` removes them (never on
// the server the tenant's row says it runs on). Each switch — migrate's and rollback's — is
// journaled in the transaction that moves the tenant, so a re-run reads where it got to.
// A failure before the switch puts the tenant back where it was and removes the half-made
// target stack. The migration is journaled in `operations` (kind tenant.migrate).

/**
 * Moves a tenant, journaled by phase (details.phase): prepared → maintenance → final-backup
 * → restored → switched. The tenant is `migrating` from the maintenance page on (excluded
 * from backups, maintenance page at the source) and gets its status from before at the end.
 * Killed at any phase, the same command resumes from the journal; `--rollback` undoes it
 * from any phase. A failure before the switch puts the tenant back on its source.
 */
export async function migrateTenant(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, to: string, step: Step): Promise<MigrateResult> {
  const t0 = Date.now();
  const lock = await lockTenant(db, slug);
  try {
    const { startStep, failStep, updateStepDetails } = await import("../../../state/operations.js");
    const tenant0 = await requireTenant(db, slug);
    const previous = await unfinishedMigration(db, tenant0.id);
    if (previous && previous.details.to !== to) {
      throw new ConflictError(`${slug}'s migration to ${previous.details.to} did not finish`, { code: "migrate-unfinished", hint: `finish it: \`btw tenant migrate ${slug} --to ${previous.details.to}\`, or undo it: \`btw tenant migrate ${slug} --rollback --yes\`` });
    }
    if (previous && previous.details.phase === "prepared") {
      // killed before anything changed on the source or the target: start over
      await failStep(db, previous.id, "interrupted before the maintenance page; started over").catch(() => {});
      await updateStepDetails(db, previous.id, { phase: "abandoned" });
    } else if (previous) {
      step(`resuming the ${previous.status === "failed" ? "failed" : "interrupted"} migration ${previous.details.from} → ${previous.details.to} (at ${previous.details.phase})`);
      // A row that failed (past the switch, or on a lost lock) stays as the record of that
      // failure; the re-run goes on under a new row with the same journal (only a running row
      // can be finished). The newest row is the one every reader of the journal takes.
      const resumed =
        previous.status === "failed"
          ? { ...(await startStep(db, { kind: MIGRATE_KIND, step: "migrate", tenantId: tenant0.id, serverId: previous.serverId, details: { ...previous.details, resumedFrom: previous.id } })), details: { ...previous.details } }
          : previous;
      return await runMigration(ctx, db, storage, slug, resumed as OperationRow & { details: MigrationDetails }, lock, step, t0);
    }
    const pre = await preflightMigrate(ctx, db, slug, to);
    if (pre.problems.length) throw new ConflictError(`cannot migrate ${slug} to ${to}: ${pre.problems.join("; ")}`, { code: "migrate-preflight" });
    const { tenant, source, target } = pre;
    step(`preflight: ${source.name} → ${target.name}`);
    const dst = await openServerSession(ctx, target);
    const { assertStackOwned } = await import("../../stack-ownership.js");
    await assertStackOwned(dst.host, { slug, stateId: ctx.stateId, recorded: false });
    await ensureImages(ctx, dst, tenant);
    const subnet = await allocateOn(ctx, db, target, dst.host, slug);
    const details: MigrationDetails = {
      from: source.name, fromServerId: source.id, to: target.name, toServerId: target.id, subnet,
      ...(tenant.subnet ? { fromSubnet: tenant.subnet } : {}), priorStatus: tenant.status, phase: "prepared",
    };
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "migrate", tenantId: tenant.id, serverId: target.id, details: { ...details } });
    return await runMigration(ctx, db, storage, slug, { ...op, details: details as MigrationDetails & Record<string, unknown> }, lock, step, t0);
  } finally {
    await lock.release();
  }
}

export async function runMigration(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, op: OperationRow & { details: MigrationDetails }, lock: Lock, step: Step, t0: number): Promise<MigrateResult> {
  const { finishStep, failStep, updateStepDetails } = await import("../../../state/operations.js");
  const { updateTenantStatus, assignTenantServer, getTenant } = await import("../../../state/tenants.js");
  const { getServer } = await import("../../../state/servers.js");
  const d = op.details;
  const tenant = await requireTenant(db, slug);
  const prior = d.priorStatus ?? "active";
  const source = (await getServer(db, d.fromServerId))!;
  const target = (await getServer(db, d.toServerId))!;
  const plan = requirePlan(ctx, tenant.plan);
  const [src, dst] = await Promise.all([openServerSession(ctx, source), openServerSession(ctx, target)]);
  // the edge proxies are looked up now, outside the unavailability window
  const edges = await edgeTargetsFor(ctx);
  const phase = async (p: MigrationPhase, extra: Partial<MigrationDetails> = {}) => {
    await lock.check();
    Object.assign(d, extra, { phase: p });
    await updateStepDetails(db, op.id, { ...extra, phase: p });
  };
  let down: number | null = d.downSince ? Date.parse(d.downSince) : null;
  try {
    if (!reached(d, "maintenance")) {
      step("fresh backup while the tenant serves");
      const fresh = await backupTenant(ctx, db, storage, src, tenant, { heldLock: lock, reason: "pre-migrate" });
      down = Date.now();
      await phase("maintenance", { backup: fresh.id, downSince: new Date(down).toISOString() });
    }
    if (!reached(d, "final-backup")) {
      step(`maintenance page on ${source.name}, n8n stopped`);
      await updateTenantStatus(db, tenant.id, "migrating");
      await syncRoutes(src.host, db, ctx, source);
      await src.host.run(composeStop(slug, { services: ["worker", "n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });
      step("final backup of the quiet database");
      const final = await backupTenant(ctx, db, storage, src, { ...tenant, status: "migrating" }, { heldLock: lock, reason: "pre-migrate" });
      await phase("final-backup", { finalBackup: final.id });
    }
    const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
    if (!reached(d, "restored")) {
      step(`restore on ${target.name}`);
      const { getBackup } = await import("../../../state/backups.js");
      const final = (await getBackup(db, d.finalBackup!))!;
      const layout = tenantLayout(slug);
      await dst.host.mkdir(layout.dir, "0700");
      await writeTenantFiles(dst.host, slug, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet: d.subnet!, images: await adoptImages(ctx, db, tenant), webhookHost: await webhookHostOf(db, tenant.id) }, secrets));
      await ensureProxy(dst.host, db, ctx, target.id);
      await restoreData({ session: dst, slug, plan, storage, key: storage.keyOf(final.location)!, master: await ctx.master(), backupId: final.id, onStep: (s) => step(`  ${s}`) });
      step("wait for n8n on the target");
      await checkN8n(dst.host, slug, secrets.get(N8N_API_KEY));
      await phase("restored");
    }
    if (!reached(d, "switched")) {
      step(`switch the route to ${target.name}`);
      await lock.check();
      // the journal says "switched" in the transaction that moves the tenant: a kill right
      // after it must not read as before the switch (whose undo removes the target's stack)
      await db.transaction(async (tx) => {
        await assignTenantServer(tx, tenant.id, target.id, d.subnet!);
        await updateStepDetails(tx, op.id, { phase: "switched" });
      });
      d.phase = "switched";
    }
    // from here on the tenant lives on the target: every step below is idempotent
    if (prior === "suspended") await dst.host.run(composeStop(slug, { services: ["worker", "n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });
    await connectTenant(dst.host, slug);
    await updateTenantStatus(db, tenant.id, prior);
    // Edge mode: the cutover is the edge proxies' tables re-rendered from the state (the row
    // now names the target), between the target's route and the source's (cutover.ts).
    const { cutover } = await import("./cutover.js");
    const cut = await cutover(d.downSince, {
      routeTarget: () => syncRoutes(dst.host, db, ctx, target),
      switchEdge:
        edges === null
          ? null
          : async () => {
              step(`switch the edge route to ${target.name} on ${edges.length} edge ${edges.length === 1 ? "proxy" : "proxies"}`);
              const { switchEdgeRoutes } = await import("../../edge/switch.js");
              return (await switchEdgeRoutes(ctx, db, edges)).map((r) => r.proxy);
            },
      recordEdge: async (at, proxies) => {
        await updateStepDetails(db, op.id, { edgeSwitchedAt: at, edgeProxies: proxies });
        Object.assign(d, { edgeSwitchedAt: at, edgeProxies: proxies });
      },
      routeSource: () => syncRoutes(src.host, db, ctx, source),
      now: Date.now,
    });
    const window = cut.unavailable;
    const downtime = window?.seconds ?? (down !== null ? (Date.now() - down) / 1000 : null);
    step(`take the source stack down on ${source.name} (volumes and files kept for --rollback)`);
    await disconnectTenantQuiet(src, slug);
    await src.host.run(composeDown(slug, { volumes: false }), { timeoutMs: 180_000 });
    await finishStep(db, op.id, { ...d, phase: "switched" });
    await ctx.audit("tenant.migrate", slug, { ...d, downtimeSeconds: downtime, unavailable: window });
    return {
      tenant: (await getTenant(db, slug))!.slug, from: source.name, to: target.name, backup: d.backup ?? null, finalBackup: d.finalBackup ?? null,
      seconds: (Date.now() - t0) / 1000, downtimeSeconds: downtime, unavailable: window, edgeProxies: cut.edgeProxies,
    };
  } catch (e) {
    const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
    const switched = reached(d, "switched");
    if (!switched && !(e instanceof LockLostError)) {
      step(`failed (${message}); putting ${slug} back on ${source.name}`);
      await undoBeforeSwitch(ctx, db, src, dst, slug, plan, prior, tenant.id).catch(() => {});
      await updateStepDetails(db, op.id, { phase: "rolled-back" }).catch(() => {});
    }
    await failStep(db, op.id, message).catch(() => {});
    throw new OperationError(`migration of ${slug} to ${target.name} failed: ${message}`, {
      code: "migrate-failed",
      hint: switched
        ? `the tenant runs on ${target.name}: re-run \`btw tenant migrate ${slug} --to ${target.name}\` to finish, or \`--rollback --yes\` to go back`
        : e instanceof LockLostError ? `re-run \`btw tenant migrate ${slug} --to ${target.name}\` to finish, or \`--rollback --yes\` to undo` : `${slug} is back on ${source.name}; fix the cause and re-run`,
      cause: e,
    });
  }
}

/** Before the switch: the half-made target stack goes, the source stack serves again. */
export async function undoBeforeSwitch(ctx: Ctx, db: Db, src: ServerSession, dst: ServerSession, slug: string, plan: Plan, prior: TenantStatus, tenantId: number): Promise<void> {
  const { updateTenantStatus } = await import("../../../state/tenants.js");
  await removeStack(dst, slug).catch(() => {});
  if (prior !== "suspended") {
    await src.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
    // answering as before: n8n's API mounts a few seconds after its readiness
    await checkN8n(src.host, slug, undefined);
  }
  await updateTenantStatus(db, tenantId, prior);
  await syncRoutes(src.host, db, ctx, src.server);
}
