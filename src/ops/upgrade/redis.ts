import type { Ctx } from "../../cli/context.js";
import { composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { checkRedisUpgrade } from "../../core/upgrade/redis.js";
import { ConflictError, LockLostError, OperationError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { Db } from "../../state/db.js";
import type { OperationRow } from "../../state/operations.js";
import type { TenantImages, TenantStatus } from "../../state/tenants.js";
import { backupTenant, openServerSession } from "../backup/tenant.js";
import { adoptImages, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "../tenant-secrets.js";
import { finishTo, pull, waitApi, type TenantUpgradeResult } from "./n8n.js";
import { webhookHostOf } from "../../state/tenant-domains.js";

// One tenant's Redis minor upgrade, under its lock, journaled (tenant.upgrade, step redis):
// a fresh backup (recorded done) and the pull → `upgrading` → Redis recreated on the new
// image over its volume, every service healthy, n8n's API answers → the image recorded.
// On failure the old image is started again over the same volume (same major: it reads it).
// Killed, the same command resumes; --rollback undoes.

const KIND = "tenant.upgrade";
const STEP = "redis";

interface RedisDetails {
  from: string;
  to: string;
  priorStatus: TenantStatus;
  backup?: string;
  phase: "prepared" | "backed-up" | "rolling-back";
}

export async function upgradeTenantRedis(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, target: string, o: { readyTimeoutSec: number; rollback?: boolean; step: (s: string) => void }): Promise<TenantUpgradeResult> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round((Date.now() - s) / 100) / 10;
    }
  };
  const result = (r: Omit<TenantUpgradeResult, "tenant" | "timings" | "seconds">): TenantUpgradeResult => ({ tenant: slug, ...r, timings, seconds: (Date.now() - t0) / 1000 });
  const lock = await lockTenant(db, slug);
  let server = "?";
  let from = "?";
  let backup: string | null = null;
  try {
    const tenant = await requireTenant(db, slug);
    const srv = await tenantServer(db, tenant);
    server = srv.name;
    const ops = await import("../../state/operations.js");
    const last = await ops.lastStep(db, tenant.id, KIND, STEP);
    let op = last?.status === "running" ? (last as unknown as OperationRow & { details: RedisDetails }) : null;
    const images = await adoptImages(ctx, db, tenant);
    const webhookHost = await webhookHostOf(db, tenant.id);
    from = op?.details.from ?? images.redis;
    if (!op && (o.rollback || images.redis === target)) return result({ server, from, to: target, ok: true, outcome: "unchanged", backup: null });
    if (op && op.details.to !== target && !o.rollback) throw new ConflictError(`${slug}'s Redis upgrade to ${op.details.to} did not finish`, { code: "upgrade-unfinished", hint: `finish it (--to ${op.details.to}) or undo it (--rollback)` });
    if (!op && tenant.status !== "active" && tenant.status !== "suspended") throw new ConflictError(`cannot upgrade ${slug}: it is ${tenant.status}`, { code: "tenant-wrong-status" });
    const session = await openServerSession(ctx, srv);
    if (!op) {
      checkRedisUpgrade(slug, images.redis, target);
      const details: RedisDetails = { from: images.redis, to: target, priorStatus: tenant.status, phase: "prepared" };
      op = { ...(await ops.startStep(db, { kind: KIND, step: STEP, tenantId: tenant.id, serverId: srv.id, details: { ...details } })), details } as OperationRow & { details: RedisDetails };
    }
    const d = op.details;
    backup = d.backup ?? null;
    const plan = requirePlan(ctx, tenant.plan);
    const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
    const { updateTenantStatus, setTenantImages } = await import("../../state/tenants.js");
    const { syncRoutes } = await import("../proxy.js");
    const startWith = async (i: Required<TenantImages>) => {
      await writeTenantFiles(session.host, slug, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet: tenant.subnet!, images: i, webhookHost }, secrets));
      await session.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: o.readyTimeoutSec }), { timeoutMs: (o.readyTimeoutSec + 60) * 1000 });
      await waitApi(session, slug, secrets.get(N8N_API_KEY));
    };
    try {
      if (o.rollback || d.phase === "rolling-back") throw new OperationError(o.rollback ? "rollback asked for" : "the upgrade had failed; finishing its rollback", { code: "upgrade-rollback-resumed" });
      if (d.phase === "prepared") {
        o.step(`${slug}: backup before the Redis upgrade, pull ${d.to}`);
        const b = await timed("backup", () => backupTenant(ctx, db, storage, session, tenant, { heldLock: lock, reason: "pre-upgrade" }));
        backup = b.id;
        await timed("pull", () => pull(session, d.to));
        await lock.check();
        await ops.updateStepDetails(db, op.id, { backup: b.id, phase: "backed-up" });
        Object.assign(d, { backup: b.id, phase: "backed-up" });
      }
      o.step(`${slug}: Redis recreated on ${d.to}`);
      await updateTenantStatus(db, tenant.id, "upgrading");
      await syncRoutes(session.host, db, ctx, srv);
      await timed("recreate", () => startWith({ ...images, redis: d.to }));
      await lock.check();
      await setTenantImages(db, tenant.id, { redis: d.to });
      await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
      await ops.finishStep(db, op.id, { phase: "done" });
      await ctx.audit("tenant.upgrade", slug, { what: "redis", from: d.from, to: d.to, backup });
      return result({ server, from: d.from, to: d.to, ok: true, outcome: "upgraded", backup });
    } catch (e) {
      if (e instanceof LockLostError) throw e;
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      if (d.phase === "prepared") {
        await ops.failStep(db, op.id, message).catch(() => {});
        return result({ server, from, to: target, ok: o.rollback === true, outcome: "failed", backup, error: message });
      }
      o.step(`${slug}: ${o.rollback ? "rolling back" : `Redis upgrade failed (${message}); rolling back`} to ${d.from}`);
      await ops.updateStepDetails(db, op.id, { phase: "rolling-back" });
      await timed("rollback", () => startWith({ ...images, redis: d.from }));
      await setTenantImages(db, tenant.id, { redis: d.from });
      await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
      await ops.failStep(db, op.id, `rolled back: ${message}`).catch(() => {});
      await ctx.audit("tenant.upgrade.rollback", slug, { what: "redis", from: d.from, to: d.to, backup, error: message });
      return result({ server, from: d.from, to: d.to, ok: o.rollback === true, outcome: "rolled-back", backup, error: message });
    }
  } catch (e) {
    if (e instanceof ConflictError || e instanceof LockLostError) throw e;
    if ((e as { exitCode?: number }).exitCode === 2) throw e;
    return result({ server, from, to: target, ok: false, outcome: "failed", backup, error: (e as Error).message.split("\n")[0]! });
  } finally {
    await lock.release();
  }
}
