import type { Ctx } from "../cli/context.js";
import { composeDown, composeStop, composeUp, tenantProfiles } from "../core/commands/compose.js";
import { purgeByLabel } from "../core/commands/tenant-purge.js";
import { allocateSubnet } from "../core/subnets.js";
import { tenantLayout } from "../core/tenant/layout.js";
import { cleanupDecision, mayRemoveKeptStack, migrationState, type MigrationState, type RollbackPhase } from "../core/tenant/migration-journal.js";
import { unavailabilityWindow, type UnavailabilityWindow } from "../core/tenant/migration-window.js";
import type { Plan } from "../config/schema.js";
import { ConflictError, LockLostError, OperationError, UsageError } from "../errors.js";
import type { BackupStorage } from "../remote/backup-storage.js";
import type { Db, Lock } from "../state/db.js";
import type { OperationRow } from "../state/operations.js";
import type { ServerRow } from "../state/servers.js";
import type { TenantRow, TenantStatus } from "../state/tenants.js";
import { asset } from "./assets.js";
import { backupTenant, openServerSession, type ServerSession } from "./backup.js";
import { connectTenant, disconnectTenant, ensureProxy, syncRoutes } from "./proxy.js";
import type { EdgeTarget } from "./edge/switch.js";
import { checkN8n, restoreData } from "./restore.js";
import { envFor } from "./tenant-create.js";
import { adoptImages, imagesOf, lockTenant, requirePlan, requireTenant, tenantServer } from "./tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "./tenant-secrets.js";
import { webhookHostOf } from "../state/tenant-domains.js";
import { isolationInPlace } from "../core/server/isolation-check.js";

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

export const MIGRATE_KIND = "tenant.migrate";

export type MigrationPhase = "prepared" | "maintenance" | "final-backup" | "restored" | "switched" | "rolled-back" | "abandoned";

export interface MigrationDetails {
  from: string;
  fromServerId: number;
  to: string;
  toServerId: number;
  subnet?: string;
  fromSubnet?: string;
  backup?: string;
  finalBackup?: string;
  /** what the journal has reached (absent in rows of older btw) */
  phase?: MigrationPhase;
  /** the tenant's status before; it gets it back at the end */
  priorStatus?: TenantStatus;
  /** when the maintenance page went up (the unavailability window starts) */
  downSince?: string;
  /** edge mode: when every edge proxy took the route to the target, and which proxies */
  edgeSwitchedAt?: string;
  edgeProxies?: string[];
}

export interface MigrateResult {
  tenant: string;
  from: string;
  to: string;
  backup: string | null;
  finalBackup: string | null;
  seconds: number;
  downtimeSeconds: number | null;
  /** from the source stopping to the new route live with the target answering */
  unavailable: UnavailabilityWindow | null;
  /** edge mode: the edge proxies whose tables were switched; null in direct mode */
  edgeProxies: string[] | null;
}

type Step = (title: string) => void;

/** The tenant's own images (versions are state): what the target must have. */
function images(ctx: Ctx, t: TenantRow): string[] {
  const i = imagesOf(ctx, t);
  return [i.n8n, i.postgres, i.redis];
}

type MigrationOp = OperationRow & { details: MigrationDetails };

/** A rollback row's details: the migration's, plus where the rollback has got to. */
interface RollbackDetails extends MigrationDetails {
  rollbackPhase?: RollbackPhase;
  safetyBackup?: string;
  switchedBackAt?: string;
}

/**
 * What the tenant's migration journal leaves to do (core/tenant/migration-journal.ts), read
 * with its row's server as the state says now. Call under the tenant's lock to act on it.
 */
export async function migrationStateOf(db: Db, tenant: Pick<TenantRow, "id" | "serverId">): Promise<MigrationState<MigrationOp>> {
  const { listOperations } = await import("../state/operations.js");
  const ops = (await listOperations(db, { tenantId: tenant.id, kind: MIGRATE_KIND })) as MigrationOp[];
  return migrationState(ops, tenant.serverId);
}

/** The migration whose source is still kept (done, not rolled back or cleaned up), if any. */
export async function currentMigration(db: Db, tenantId: number): Promise<MigrationOp | null> {
  const { getTenantById } = await import("../state/tenants.js");
  const tenant = await getTenantById(db, tenantId);
  if (!tenant) return null;
  const state = await migrationStateOf(db, tenant);
  return state.kind === "source-kept" ? state.migration : null;
}

const finishRollbackHint = (slug: string) => `\`btw tenant migrate ${slug} --rollback --yes\` finishes it`;

async function allocateOn(ctx: Ctx, db: Db, server: ServerRow): Promise<string> {
  const { usedSubnets } = await import("../state/tenants.js");
  const lock = await db.lock({ kind: "server", name: server.name }, { timeoutMs: 60_000 });
  try {
    const subnet = allocateSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, await usedSubnets(db, server.id));
    if (!subnet) throw new ConflictError(`no free subnet left on ${server.name}`, { code: "subnets-exhausted" });
    return subnet;
  } finally {
    await lock.release();
  }
}

export interface MigratePreflight {
  tenant: TenantRow;
  source: ServerRow;
  target: ServerRow;
  problems: string[];
}

export async function preflightMigrate(ctx: Ctx, db: Db, slug: string, to: string): Promise<MigratePreflight> {
  const tenant = await requireTenant(db, slug);
  const source = await tenantServer(db, tenant);
  const { requireServer } = await import("./server/context.js");
  const target = await requireServer(db, to);
  const problems: string[] = [];
  if (tenant.status !== "active" && tenant.status !== "suspended") problems.push(`tenant ${slug} is ${tenant.status}`);
  if (target.id === source.id) throw new UsageError(`tenant ${slug} is already on ${to}`);
  if (target.status !== "active") problems.push(`server ${to} is ${target.status}`);
  else if (!isolationInPlace(target.facts)) problems.push(`server ${to}'s tenant isolation rules are not in force (or were never checked): \`btw server isolate ${to}\` first`);
  const { listServers } = await import("../state/servers.js");
  const usage = (await listServers(db)).find((s) => s.id === target.id)!;
  if (usage.freeCapacity < tenant.weight) problems.push(`server ${to} has ${usage.freeCapacity} capacity units free, ${slug} needs ${tenant.weight}`);
  const state = await migrationStateOf(db, tenant);
  if (state.kind === "source-kept") problems.push(`the previous migration of ${slug} still keeps its source stack: \`btw tenant migrate ${slug} --cleanup\` (or --rollback) first`);
  if (state.kind === "rollback-unfinished") problems.push(`the rollback of ${slug}'s migration to ${state.migration.details.to} did not finish (${slug} runs on ${state.migration.details.from} again; its stack on ${state.migration.details.to} is left over): ${finishRollbackHint(slug)} first`);
  return { tenant, source, target, problems };
}

/** Images present on the target, pulled when missing (fails when they cannot be had). */
async function ensureImages(ctx: Ctx, s: ServerSession, t: TenantRow): Promise<void> {
  for (const image of images(ctx, t)) {
    const has = await s.host.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], { allowFailure: true });
    if (has.exitCode === 0) continue;
    const pull = await s.host.run(["docker", "pull", "--quiet", image], { allowFailure: true, timeoutMs: 900_000 });
    if (pull.exitCode !== 0) throw new OperationError(`image ${image} is not on ${s.server.name} and cannot be pulled: ${pull.stderr.trim().split("\n").pop()}`, { code: "image-missing" });
  }
}

async function removeStack(s: ServerSession, slug: string): Promise<void> {
  await disconnectTenantQuiet(s, slug);
  await s.host.run(composeDown(slug, { volumes: true }), { allowFailure: true, timeoutMs: 180_000 });
  await s.host.run(purgeByLabel(slug), { allowFailure: true });
  await s.host.removeTree(tenantLayout(slug).dir);
}

async function disconnectTenantQuiet(s: ServerSession, slug: string): Promise<void> {
  await disconnectTenant(s.host, slug).catch(() => {});
}

/** The migration a killed btw left unfinished (its journal row not done, not rolled back), if any. */
export async function unfinishedMigration(db: Db, tenantId: number): Promise<(OperationRow & { details: MigrationDetails }) | null> {
  const { lastStep } = await import("../state/operations.js");
  const op = await lastStep(db, tenantId, MIGRATE_KIND, "migrate");
  if (!op || op.status === "done") return null;
  const d = op.details as unknown as MigrationDetails;
  return d.phase && d.phase !== "rolled-back" && d.phase !== "abandoned" ? (op as OperationRow & { details: MigrationDetails }) : null;
}

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
    const { startStep, failStep, updateStepDetails } = await import("../state/operations.js");
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
    const { assertStackOwned } = await import("./stack-ownership.js");
    await assertStackOwned(dst.host, { slug, stateId: ctx.stateId, recorded: false });
    await ensureImages(ctx, dst, tenant);
    const subnet = await allocateOn(ctx, db, target);
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

const PHASES: MigrationPhase[] = ["prepared", "maintenance", "final-backup", "restored", "switched"];
const reached = (d: MigrationDetails, p: MigrationPhase) => PHASES.indexOf(d.phase!) >= PHASES.indexOf(p);

async function runMigration(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, op: OperationRow & { details: MigrationDetails }, lock: Lock, step: Step, t0: number): Promise<MigrateResult> {
  const { finishStep, failStep, updateStepDetails } = await import("../state/operations.js");
  const { updateTenantStatus, assignTenantServer, getTenant } = await import("../state/tenants.js");
  const { getServer } = await import("../state/servers.js");
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
      const { getBackup } = await import("../state/backups.js");
      const final = (await getBackup(db, d.finalBackup!))!;
      const layout = tenantLayout(slug);
      await dst.host.mkdir(layout.dir, "0700");
      await dst.host.writeFile(layout.composeFile, asset("templates/tenant/compose.yml"));
      await dst.host.writeFile(layout.envFile, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet: d.subnet!, images: await adoptImages(ctx, db, tenant), webhookHost: await webhookHostOf(db, tenant.id) }, secrets), "0600");
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
    // now names the target), between the target's route and the source's (ops/tenant/migrate-cutover.ts).
    const { cutover } = await import("./tenant/migrate-cutover.js");
    const cut = await cutover(d.downSince, {
      routeTarget: () => syncRoutes(dst.host, db, ctx, target),
      switchEdge:
        edges === null
          ? null
          : async () => {
              step(`switch the edge route to ${target.name} on ${edges.length} edge ${edges.length === 1 ? "proxy" : "proxies"}`);
              const { switchEdgeRoutes } = await import("./edge/switch.js");
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
async function undoBeforeSwitch(ctx: Ctx, db: Db, src: ServerSession, dst: ServerSession, slug: string, plan: Plan, prior: TenantStatus, tenantId: number): Promise<void> {
  const { updateTenantStatus } = await import("../state/tenants.js");
  await removeStack(dst, slug).catch(() => {});
  if (prior !== "suspended") {
    await src.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
    // answering as before: n8n's API mounts a few seconds after its readiness
    await checkN8n(src.host, slug, undefined);
  }
  await updateTenantStatus(db, tenantId, prior);
  await syncRoutes(src.host, db, ctx, src.server);
}

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
      const { getServer } = await import("../state/servers.js");
      const [source, target] = [(await getServer(db, d.fromServerId))!, (await getServer(db, d.toServerId))!];
      const [src, dst] = await Promise.all([openServerSession(ctx, source), openServerSession(ctx, target)]);
      step(`undo the interrupted migration (at ${d.phase}): remove the target stack on ${target.name}, ${slug} back on ${source.name}`);
      await undoBeforeSwitch(ctx, db, src, dst, slug, requirePlan(ctx, tenant.plan), d.priorStatus ?? "active", tenant.id);
      const { updateStepDetails, failStep } = await import("../state/operations.js");
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
    const { getServer } = await import("../state/servers.js");
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
    const { startStep, finishStep, failStep, updateStepDetails } = await import("../state/operations.js");
    const started: RollbackDetails = { ...m.details, rollbackPhase: "started" };
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "rollback", tenantId: tenant.id, serverId: source.id, details: { ...started } });
    const { updateTenantStatus, assignTenantServer, getTenant } = await import("../state/tenants.js");
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
      const subnet = await allocateOn(ctx, db, source);
      const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
      await src.host.writeFile(layout.envFile, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet, images: await adoptImages(ctx, db, tenant), webhookHost: await webhookHostOf(db, tenant.id) }, secrets), "0600");
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

type RollbackOp = OperationRow & { details: RollbackDetails };

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
    const { switchEdgeRoutes } = await import("./edge/switch.js");
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
  const { getServer } = await import("../state/servers.js");
  const source = await getServer(db, d.fromServerId);
  if (!source || tenant.serverId !== source.id) {
    throw new ConflictError(`tenant ${slug} is not on ${d.from}, where its unfinished rollback moved it`, { code: "migrate-moved", hint: `\`btw tenant show ${slug}\` shows where it runs and its journal` });
  }
  const target = await getServer(db, d.toServerId);
  const suspended = tenant.status === "suspended";
  const [src, dst] = await Promise.all([openServerSession(ctx, source), target ? openServerSession(ctx, target) : null]);
  const edges = await edgeTargetsFor(ctx);
  const { startStep, finishStep, failStep } = await import("../state/operations.js");
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

/** Edge mode: the edge proxies to switch; direct mode: null (the servers' proxies are the route). */
async function edgeTargetsFor(ctx: Ctx): Promise<EdgeTarget[] | null> {
  if (ctx.config.proxy.mode !== "edge") return null;
  const { edgeTargets } = await import("./edge/switch.js");
  return edgeTargets(ctx);
}

/**
 * The refusal of a removal that would hit the stack a tenant runs on: a rollback stopped after
 * its switch left the tenant live on its migration's source.
 */
export function unfinishedRollbackError(slug: string, m: MigrationDetails, what: string): ConflictError {
  return new ConflictError(`cannot ${what}: the rollback of ${slug}'s migration to ${m.to} did not finish; ${slug} runs on ${m.from} again (nothing was removed)`, {
    code: "rollback-unfinished",
    hint: `${finishRollbackHint(slug)}: it routes ${slug} on ${m.from} and removes the stack left on ${m.to}`,
  });
}

function liveStackError(slug: string, server: string, what: string): ConflictError {
  return new ConflictError(`refusing to ${what}: ${slug} runs on ${server} (its row in the state) — that stack is live, not a kept source (nothing was removed)`, {
    code: "stack-is-live",
    hint: `\`btw tenant show ${slug}\` shows where it runs and its migration journal`,
  });
}

/**
 * A purge's last step for a migrated tenant: the source stack kept on the old server goes
 * too. Call under the tenant's lock; refused when the tenant's row says it runs there.
 */
export async function removeKeptSource(ctx: Ctx, db: Db, slug: string, serverId: number): Promise<void> {
  const { getServer } = await import("../state/servers.js");
  const source = await getServer(db, serverId);
  // the tenant's row now, not the journal's word: the stack it runs on is no kept source
  const tenant = await requireTenant(db, slug);
  if (!mayRemoveKeptStack(tenant.serverId, serverId)) throw liveStackError(slug, source?.name ?? `server ${serverId}`, `remove ${slug}'s kept migration source`);
  if (!source) return;
  await removeStack(await openServerSession(ctx, source), slug);
}

export async function cleanupMigration(ctx: Ctx, db: Db, slug: string, step: Step): Promise<{ tenant: string; removedFrom: string }> {
  const lock = await lockTenant(db, slug);
  try {
    // read under the lock: the tenant's row decides where it runs, whatever the journal says
    const tenant = await requireTenant(db, slug);
    const state = await migrationStateOf(db, tenant);
    const decision = cleanupDecision(state, tenant.serverId);
    const { getServer } = await import("../state/servers.js");
    const what = `clean up ${slug}'s migration`;
    if (decision.action === "refuse") {
      if (decision.reason === "rollback-unfinished") throw unfinishedRollbackError(slug, decision.migration.details, what);
      if (decision.reason === "stack-is-live") throw liveStackError(slug, (await getServer(db, decision.serverId))?.name ?? `server ${decision.serverId}`, what);
      throw new ConflictError(`tenant ${slug} has no migration whose source is kept`, { code: "no-migration" });
    }
    const m = decision.migration;
    const source = await getServer(db, decision.serverId);
    if (!source) throw new ConflictError(`the source server of ${slug}'s migration is no longer registered`, { code: "migrate-source-gone" });
    const src = await openServerSession(ctx, source);
    await lock.check();
    const { startStep, finishStep } = await import("../state/operations.js");
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "cleanup", tenantId: tenant.id, serverId: source.id, details: { ...m.details } });
    step(`remove ${slug}'s kept stack on ${source.name}: volumes, networks, files`);
    await removeStack(src, slug);
    await finishStep(db, op.id);
    await ctx.audit("tenant.migrate.cleanup", slug, { server: source.name });
    return { tenant: slug, removedFrom: source.name };
  } finally {
    await lock.release();
  }
}
