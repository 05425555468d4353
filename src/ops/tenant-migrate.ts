import type { Ctx } from "../cli/context.js";
import { composeDown, composeStop, composeUp, tenantProfiles } from "../core/commands/compose.js";
import { purgeByLabel } from "../core/commands/tenant-purge.js";
import { allocateSubnet } from "../core/subnets.js";
import { tenantLayout } from "../core/tenant/layout.js";
import { ConflictError, OperationError, UsageError } from "../errors.js";
import type { BackupStorage } from "../remote/backup-storage.js";
import type { Db } from "../state/db.js";
import type { OperationRow } from "../state/operations.js";
import type { ServerRow } from "../state/servers.js";
import type { TenantRow } from "../state/tenants.js";
import { asset } from "./assets.js";
import { backupTenant, openServerSession, type ServerSession } from "./backup.js";
import { connectTenant, disconnectTenant, ensureProxy, syncRoutes } from "./proxy.js";
import { checkN8n, restoreData } from "./restore.js";
import { envFor } from "./tenant-create.js";
import { lockTenant, requirePlan, requireTenant, tenantServer } from "./tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "./tenant-secrets.js";

// `tenant migrate <name> --to <server>`: preflight (target reachable, active, with capacity,
// a subnet and the images), a fresh backup while the tenant still serves, then the
// maintenance page on the source and n8n stopped there, a final backup of the quiet
// database, its restore on the target, n8n's readiness, and the switch: the state moves the
// tenant, the target's proxy routes it and the source's stops. The source stack is taken
// down but its volumes and files stay for `--rollback`; `--cleanup` removes them.
// A failure before the switch puts the tenant back where it was and removes the half-made
// target stack. The migration is journaled in `operations` (kind tenant.migrate).

export const MIGRATE_KIND = "tenant.migrate";

export interface MigrationDetails {
  from: string;
  fromServerId: number;
  to: string;
  toServerId: number;
  subnet?: string;
  fromSubnet?: string;
  backup?: string;
  finalBackup?: string;
}

export interface MigrateResult {
  tenant: string;
  from: string;
  to: string;
  backup: string | null;
  finalBackup: string | null;
  seconds: number;
  downtimeSeconds: number | null;
}

type Step = (title: string) => void;

async function images(ctx: Ctx): Promise<string[]> {
  return [ctx.config.images.n8n, ctx.config.images.postgres, ctx.config.images.redis];
}

/** The migration whose source is still kept (done, not rolled back or cleaned up), if any. */
export async function currentMigration(db: Db, tenantId: number): Promise<(OperationRow & { details: MigrationDetails }) | null> {
  const { listOperations } = await import("../state/operations.js");
  const ops = await listOperations(db, { tenantId, kind: MIGRATE_KIND });
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i]!;
    if (op.status !== "done") continue;
    if (op.step === "migrate") return op as OperationRow & { details: MigrationDetails };
    if (op.step === "rollback" || op.step === "cleanup") return null;
  }
  return null;
}

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
  const { requireServer } = await import("../commands/server/shared.js");
  const target = await requireServer(db, to);
  const problems: string[] = [];
  if (tenant.status !== "active" && tenant.status !== "suspended") problems.push(`tenant ${slug} is ${tenant.status}`);
  if (target.id === source.id) throw new UsageError(`tenant ${slug} is already on ${to}`);
  if (target.status !== "active") problems.push(`server ${to} is ${target.status}`);
  const { listServers } = await import("../state/servers.js");
  const usage = (await listServers(db)).find((s) => s.id === target.id)!;
  if (usage.freeCapacity < tenant.weight) problems.push(`server ${to} has ${usage.freeCapacity} capacity units free, ${slug} needs ${tenant.weight}`);
  if (await currentMigration(db, tenant.id)) problems.push(`the previous migration of ${slug} still keeps its source stack: \`btw tenant migrate ${slug} --cleanup\` (or --rollback) first`);
  return { tenant, source, target, problems };
}

/** Images present on the target, pulled when missing (fails when they cannot be had). */
async function ensureImages(ctx: Ctx, s: ServerSession): Promise<void> {
  for (const image of await images(ctx)) {
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

export async function migrateTenant(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, to: string, step: Step): Promise<MigrateResult> {
  const t0 = Date.now();
  const lock = await lockTenant(db, slug);
  try {
    const pre = await preflightMigrate(ctx, db, slug, to);
    if (pre.problems.length) throw new ConflictError(`cannot migrate ${slug} to ${to}: ${pre.problems.join("; ")}`, { code: "migrate-preflight" });
    const { tenant, source, target } = pre;
    const plan = requirePlan(ctx, tenant.plan);
    step(`preflight: ${source.name} → ${target.name}`);
    const [src, dst] = await Promise.all([openServerSession(ctx, source), openServerSession(ctx, target)]);
    const leftover = await dst.host.run(["test", "-e", tenantLayout(slug).dir], { allowFailure: true });
    if (leftover.exitCode === 0) {
      throw new ConflictError(`${target.name} already has files for a stack named ${slug} (${tenantLayout(slug).dir})`, { code: "migrate-target-busy", hint: "remove what is left there first" });
    }
    await ensureImages(ctx, dst);
    const subnet = await allocateOn(ctx, db, target);
    const { startStep, finishStep, failStep } = await import("../state/operations.js");
    const details: MigrationDetails = { from: source.name, fromServerId: source.id, to: target.name, toServerId: target.id, subnet, fromSubnet: tenant.subnet ?? undefined };
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "migrate", tenantId: tenant.id, serverId: target.id, details: { ...details } });
    const { updateTenantStatus, assignTenantServer, getTenant } = await import("../state/tenants.js");

    step("fresh backup while the tenant serves");
    const fresh = await backupTenant(ctx, db, storage, src, tenant, { heldLock: lock, reason: "pre-migrate" });
    details.backup = fresh.id;

    let switched = false;
    let down: number | null = null;
    try {
      step(`maintenance page on ${source.name}, n8n stopped`);
      down = Date.now();
      await updateTenantStatus(db, tenant.id, "suspended");
      await syncRoutes(src.host, db, ctx.config, source);
      await src.host.run(composeStop(slug, { services: ["worker", "n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });

      step("final backup of the quiet database");
      const final = await backupTenant(ctx, db, storage, src, tenant, { heldLock: lock, reason: "pre-migrate" });
      details.finalBackup = final.id;

      step(`restore on ${target.name}`);
      const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
      const layout = tenantLayout(slug);
      await dst.host.mkdir(layout.dir, "0700");
      await dst.host.writeFile(layout.composeFile, asset("templates/tenant/compose.yml"));
      await dst.host.writeFile(layout.envFile, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet }, secrets), "0600");
      await ensureProxy(dst.host, db, ctx.config, target.id);
      await restoreData({ session: dst, slug, plan, storage, key: storage.keyOf(final.location)!, master: await ctx.master(), backupId: final.id, onStep: (s) => step(`  ${s}`) });
      step("wait for n8n on the target");
      await checkN8n(dst.host, slug, secrets.get(N8N_API_KEY));

      step(`switch the route to ${target.name}`);
      await db.transaction(async (tx) => {
        await assignTenantServer(tx, tenant.id, target.id, subnet);
        await updateTenantStatus(tx, tenant.id, tenant.status === "suspended" ? "suspended" : "active");
      });
      switched = true;
      await connectTenant(dst.host, slug);
      await syncRoutes(dst.host, db, ctx.config, target, tenant.status === "suspended" ? [] : [slug]);
      const downtime = (Date.now() - down) / 1000;
      await syncRoutes(src.host, db, ctx.config, source);

      step(`take the source stack down on ${source.name} (volumes and files kept for --rollback)`);
      await disconnectTenantQuiet(src, slug);
      await src.host.run(composeDown(slug, { volumes: false }), { timeoutMs: 180_000 });
      await finishStep(db, op.id, { ...details });
      await ctx.audit("tenant.migrate", slug, { ...details });
      return { tenant: (await getTenant(db, slug))!.slug, from: source.name, to: target.name, backup: fresh.id, finalBackup: final.id, seconds: (Date.now() - t0) / 1000, downtimeSeconds: downtime };
    } catch (e) {
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      if (!switched) {
        step(`failed (${message}); putting ${slug} back on ${source.name}`);
        await updateTenantStatus(db, tenant.id, tenant.status).catch(() => {});
        await src.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { allowFailure: true, timeoutMs: 330_000 }).catch(() => {});
        await syncRoutes(src.host, db, ctx.config, source).catch(() => {});
        await removeStack(dst, slug).catch(() => {});
      }
      await failStep(db, op.id, message, { ...details }).catch(() => {});
      throw new OperationError(`migration of ${slug} to ${target.name} failed: ${message}`, {
        code: "migrate-failed",
        hint: switched ? `the tenant runs on ${target.name}; the source stack on ${source.name} is kept — \`btw tenant migrate ${slug} --rollback\`` : `${slug} is back on ${source.name}; fix the cause and re-run`,
        cause: e,
      });
    }
  } finally {
    await lock.release();
  }
}

export async function rollbackMigration(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, step: Step): Promise<MigrateResult> {
  const t0 = Date.now();
  const lock = await lockTenant(db, slug);
  try {
    const tenant = await requireTenant(db, slug);
    const m = await currentMigration(db, tenant.id);
    if (!m) throw new ConflictError(`tenant ${slug} has no migration to roll back`, { code: "no-migration", hint: `\`btw tenant show ${slug}\`` });
    const { getServer } = await import("../state/servers.js");
    const current = await tenantServer(db, tenant);
    if (current.id !== m.details.toServerId) throw new ConflictError(`tenant ${slug} is on ${current.name}, not on ${m.details.to} where it was migrated`, { code: "migrate-moved" });
    const source = await getServer(db, m.details.fromServerId);
    if (!source) throw new ConflictError(`the source server of ${slug}'s migration is no longer registered`, { code: "migrate-source-gone" });
    const plan = requirePlan(ctx, tenant.plan);
    const [src, dst] = await Promise.all([openServerSession(ctx, source), openServerSession(ctx, current)]);
    const layout = tenantLayout(slug);
    const kept = await src.host.run(["test", "-f", layout.composeFile], { allowFailure: true });
    if (kept.exitCode !== 0) throw new ConflictError(`the source stack of ${slug} is gone from ${source.name}`, { code: "migrate-source-gone" });
    const { startStep, finishStep, failStep } = await import("../state/operations.js");
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "rollback", tenantId: tenant.id, serverId: source.id, details: { ...m.details } });
    const { updateTenantStatus, assignTenantServer, getTenant } = await import("../state/tenants.js");
    let switched = false;
    try {
      step(`maintenance page on ${current.name}, n8n stopped`);
      const down = Date.now();
      await updateTenantStatus(db, tenant.id, "suspended");
      await syncRoutes(dst.host, db, ctx.config, current);
      await dst.host.run(composeStop(slug, { services: ["worker", "n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });
      step(`safety backup of what ${current.name} holds (changes since the migration)`);
      const safety = await backupTenant(ctx, db, storage, dst, tenant, { heldLock: lock, reason: "pre-restore" });

      step(`start the kept stack on ${source.name}`);
      const subnet = await allocateOn(ctx, db, source);
      const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
      await src.host.writeFile(layout.envFile, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet }, secrets), "0600");
      await src.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
      await checkN8n(src.host, slug, secrets.get(N8N_API_KEY));

      step(`switch the route back to ${source.name}`);
      await db.transaction(async (tx) => {
        await assignTenantServer(tx, tenant.id, source.id, subnet);
        await updateTenantStatus(tx, tenant.id, tenant.status === "suspended" ? "suspended" : "active");
      });
      switched = true;
      await connectTenant(src.host, slug);
      await syncRoutes(src.host, db, ctx.config, source, tenant.status === "suspended" ? [] : [slug]);
      const downtime = (Date.now() - down) / 1000;
      await syncRoutes(dst.host, db, ctx.config, current);
      step(`remove the stack on ${current.name} (its data is in backup ${safety.id})`);
      await removeStack(dst, slug);
      await finishStep(db, op.id, { safetyBackup: safety.id });
      await ctx.audit("tenant.migrate.rollback", slug, { from: current.name, to: source.name, safetyBackup: safety.id });
      return { tenant: (await getTenant(db, slug))!.slug, from: current.name, to: source.name, backup: safety.id, finalBackup: null, seconds: (Date.now() - t0) / 1000, downtimeSeconds: downtime };
    } catch (e) {
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      if (!switched) {
        await src.host.run(composeDown(slug, { volumes: false }), { allowFailure: true, timeoutMs: 180_000 }).catch(() => {});
        await updateTenantStatus(db, tenant.id, tenant.status).catch(() => {});
        await dst.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { allowFailure: true, timeoutMs: 330_000 }).catch(() => {});
        await syncRoutes(dst.host, db, ctx.config, current).catch(() => {});
      }
      await failStep(db, op.id, message).catch(() => {});
      throw new OperationError(`rollback of ${slug} failed: ${message}`, { code: "rollback-failed", cause: e });
    }
  } finally {
    await lock.release();
  }
}

/** A purge's last step for a migrated tenant: the source stack kept on the old server goes too. */
export async function removeKeptSource(ctx: Ctx, db: Db, slug: string, serverId: number): Promise<void> {
  const { getServer } = await import("../state/servers.js");
  const source = await getServer(db, serverId);
  if (!source) return;
  await removeStack(await openServerSession(ctx, source), slug);
}

export async function cleanupMigration(ctx: Ctx, db: Db, slug: string, step: Step): Promise<{ tenant: string; removedFrom: string }> {
  const lock = await lockTenant(db, slug);
  try {
    const tenant = await requireTenant(db, slug);
    const m = await currentMigration(db, tenant.id);
    if (!m) throw new ConflictError(`tenant ${slug} has no migration whose source is kept`, { code: "no-migration" });
    const { getServer } = await import("../state/servers.js");
    const source = await getServer(db, m.details.fromServerId);
    if (!source) throw new ConflictError(`the source server of ${slug}'s migration is no longer registered`, { code: "migrate-source-gone" });
    const src = await openServerSession(ctx, source);
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
