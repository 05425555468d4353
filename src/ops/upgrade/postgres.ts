import type { Ctx } from "../../cli/context.js";
import { composeRm, composeStop, composeUp, tenantProfiles } from "../../core/commands/compose.js";
import {
  countDifferences,
  parseCounts,
  pgCountRows,
  pgDumpToFile,
  pgRestoreFromFile,
  pgVolumeRm,
  planPostgresUpgrade,
  type PostgresPhase,
} from "../../core/upgrade/postgres.js";
import { ConflictError, LockLostError, OperationError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { Db } from "../../state/db.js";
import type { OperationRow } from "../../state/operations.js";
import type { TenantImages, TenantRow, TenantStatus } from "../../state/tenants.js";
import { backupTenant, openServerSession, type ServerSession } from "../backup/tenant.js";
import { adoptImages, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../tenant-context.js";
import { N8N_API_KEY, readAllSecrets } from "../tenant-secrets.js";
import { finishTo, pull, waitApi, type TenantUpgradeResult } from "./n8n.js";
import { webhookHostOf } from "../../state/tenant-domains.js";

/** The least time a rollback gives the old version to be ready again, whatever --ready-timeout says. */
const ROLLBACK_READY_MIN_SEC = 180;

// One tenant's Postgres major upgrade, under its lock, journaled (operations, kind
// tenant.upgrade, step postgres), phase by phase:
//   prepared   → a fresh backup (recorded done), the new image pulled
//   backed-up  → `upgrading` (maintenance page), n8n (and the worker) stopped, rows counted,
//                pg_dump -Fc from the running old server into a file on the server
//   dumped     → the old server stopped (its volume untouched), a NEW volume made afresh
//                (a new major cannot open the old data directory), the new image started on
//                it, the dump restored in one transaction, the rows counted again
//   restored   → n8n started, readiness, its API answers; the new image and volume recorded
// Any failure after `prepared`: the .env points back to the old image and the old volume,
// the stack starts as before, the new volume goes (its data is a copy). The old volume is
// never removed here: `btw upgrade postgres --cleanup` does, once the operator confirms.
// Killed at any point, the same command resumes at the recorded phase; `--rollback` undoes.

export const UPGRADE_KIND = "tenant.upgrade";
const STEP = "postgres";

interface PgUpgradeDetails {
  from: string;
  to: string;
  fromVolume: string;
  toVolume: string;
  dumpFile: string;
  priorStatus: TenantStatus;
  backup?: string;
  counts?: Record<string, number>;
  dumpBytes?: number;
  phase: PostgresPhase;
}

export interface PgUpgradeOptions {
  readyTimeoutSec: number;
  /** undo an interrupted upgrade instead of finishing it */
  rollback?: boolean;
  step: (s: string) => void;
}

type Journal = OperationRow & { details: PgUpgradeDetails };

async function unfinished(db: Db, tenantId: number): Promise<Journal | null> {
  const { lastStep } = await import("../../state/operations.js");
  const op = await lastStep(db, tenantId, UPGRADE_KIND, STEP);
  return op && op.status === "running" ? (op as unknown as Journal) : null;
}

/** Upgrades one tenant's Postgres to `target` (an image of a newer major); the result says how it went. */
export async function upgradeTenantPostgres(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, target: string, o: PgUpgradeOptions): Promise<TenantUpgradeResult> {
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
    const { startStep, finishStep, failStep, updateStepDetails } = await import("../../state/operations.js");
    let op = await unfinished(db, tenant.id);
    const images = await adoptImages(ctx, db, tenant);
    const webhookHost = await webhookHostOf(db, tenant.id);
    from = op?.details.from ?? images.postgres;
    if (!op && o.rollback) return result({ server, from, to: target, ok: true, outcome: "unchanged", backup: null });
    if (!op && images.postgres === target) return result({ server, from, to: target, ok: true, outcome: "unchanged", backup: null });
    if (op && op.details.to !== target && !o.rollback) {
      throw new ConflictError(`${slug}'s Postgres upgrade to ${op.details.to} did not finish`, { code: "upgrade-unfinished", hint: `finish it: \`btw upgrade postgres --tenant ${slug} --to ${op.details.to}\`, or undo it with --rollback` });
    }
    if (!op && tenant.status !== "active" && tenant.status !== "suspended") {
      throw new ConflictError(`cannot upgrade ${slug}: it is ${tenant.status}`, { code: "tenant-wrong-status" });
    }
    const session = await openServerSession(ctx, srv);
    if (!op) {
      const p = planPostgresUpgrade(slug, images, target);
      const details: PgUpgradeDetails = { from: p.from, to: p.to, fromVolume: p.fromVolume, toVolume: p.toVolume, dumpFile: p.dumpFile, priorStatus: tenant.status, phase: "prepared" };
      op = { ...(await startStep(db, { kind: UPGRADE_KIND, step: STEP, tenantId: tenant.id, serverId: srv.id, details: { ...details } })), details } as Journal;
    } else {
      o.step(`${slug}: resuming the interrupted Postgres upgrade (at ${op.details.phase})${o.rollback ? ": rolling it back" : ""}`);
    }
    const d = op.details;
    backup = d.backup ?? null;
    const phase = async (p: PostgresPhase, extra: Partial<PgUpgradeDetails> = {}) => {
      await lock.check();
      Object.assign(d, extra, { phase: p });
      await updateStepDetails(db, op!.id, { ...extra, phase: p });
    };
    const plan = requirePlan(ctx, tenant.plan);
    const profiles = tenantProfiles(plan);
    const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
    const writeEnv = (i: Required<TenantImages>) =>
      writeTenantFiles(session.host, slug, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet: tenant.subnet!, images: i, webhookHost }, secrets));
    const oldImages = { ...images, postgres: d.from, pgdataVolume: d.fromVolume };
    const newImages = { ...images, postgres: d.to, pgdataVolume: d.toVolume };
    const { updateTenantStatus, setTenantImages } = await import("../../state/tenants.js");
    try {
      if (o.rollback || d.phase === "rolling-back") throw new OperationError(o.rollback ? "rollback asked for" : "the upgrade had failed; finishing its rollback", { code: "upgrade-rollback-resumed" });
      if (d.phase === "prepared") {
        o.step(`${slug}: backup before the Postgres upgrade`);
        const b = await timed("backup", () => backupTenant(ctx, db, storage, session, tenant, { heldLock: lock, reason: "pre-upgrade" }));
        backup = b.id;
        o.step(`${slug}: pull ${d.to} on ${srv.name}`);
        await timed("pull", () => pull(session, d.to));
        await phase("backed-up", { backup: b.id });
      }
      if (d.phase === "backed-up") {
        o.step(`${slug}: maintenance page, n8n stopped, pg_dump from Postgres ${d.from}`);
        await updateTenantStatus(db, tenant.id, "upgrading");
        await syncRoutesOf(ctx, db, session);
        await timed("dump", async () => {
          await session.host.run(composeStop(slug, { services: plan.queueMode ? ["worker", "n8n"] : ["n8n"], timeoutSec: 40 }), { timeoutMs: 180_000 });
          const counts = await countRows(session, slug);
          const r = await session.host.run(pgDumpToFile(slug, d.dumpFile), { timeoutMs: 3_600_000 });
          await phase("dumped", { counts, dumpBytes: Number(r.stdout.trim()) || 0 });
        });
      }
      if (d.phase === "dumped") {
        o.step(`${slug}: Postgres ${d.to} on a new volume ${d.toVolume} (${d.fromVolume} kept), restore the dump (${d.dumpBytes ?? "?"} bytes)`);
        await timed("restore", async () => {
          // always from a fresh volume: a restore interrupted earlier leaves nothing behind
          await session.host.run(composeRm(slug, ["postgres"]), { timeoutMs: 180_000 });
          await session.host.run(pgVolumeRm(d.toVolume), { allowFailure: true });
          await writeEnv(newImages);
          await session.host.run(composeUp(slug, { profiles, wait: o.readyTimeoutSec, services: ["postgres"] }), { timeoutMs: (o.readyTimeoutSec + 60) * 1000 });
          await session.host.run(pgRestoreFromFile(slug, d.dumpFile), { timeoutMs: 3_600_000 });
          const after = await countRows(session, slug);
          const diff = countDifferences(d.counts ?? {}, after);
          if (diff.length) throw new OperationError(`rows differ after the restore: ${diff.join(", ")}`, { code: "upgrade-rows-differ" });
        });
        await phase("restored");
      }
      o.step(`${slug}: n8n started on Postgres ${d.to}, waiting for readiness`);
      await timed("start", async () => {
        await writeEnv(newImages);
        await session.host.run(composeUp(slug, { profiles, wait: o.readyTimeoutSec }), { timeoutMs: (o.readyTimeoutSec + 60) * 1000 });
        await waitApi(session, slug, secrets.get(N8N_API_KEY));
      });
      await lock.check();
      await setTenantImages(db, tenant.id, { postgres: d.to, pgdataVolume: d.toVolume });
      await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
      await finishStep(db, op.id, { phase: "done" });
      await ctx.audit("tenant.upgrade", slug, { what: "postgres", from: d.from, to: d.to, fromVolume: d.fromVolume, toVolume: d.toVolume, backup });
      return result({ server, from: d.from, to: d.to, ok: true, outcome: "upgraded", backup });
    } catch (e) {
      if (e instanceof LockLostError) throw e;
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      if (d.phase === "prepared") {
        // nothing changed yet (the backup or the pull failed)
        await failStep(db, op.id, message).catch(() => {});
        return result({ server, from, to: target, ok: o.rollback === true, outcome: "failed", backup, error: message });
      }
      o.step(`${slug}: ${o.rollback ? "rolling back" : `Postgres upgrade failed (${message}); rolling back`}: ${d.from} on ${d.fromVolume}`);
      await phase("rolling-back");
      await timed("rollback", async () => {
        await session.host.run(composeRm(slug, ["postgres"]), { timeoutMs: 180_000 });
        await writeEnv(oldImages);
        // --ready-timeout bounds the new version; the old one, known to run, gets at least the
        // default's time (a short --ready-timeout on a loaded server failed the rollback itself)
        const back = Math.max(o.readyTimeoutSec, ROLLBACK_READY_MIN_SEC);
        await session.host.run(composeUp(slug, { profiles, wait: back }), { timeoutMs: (back + 60) * 1000 });
        await waitApi(session, slug, secrets.get(N8N_API_KEY));
        // the new volume held a copy only; the old one is what runs again
        await session.host.run(pgVolumeRm(d.toVolume), { allowFailure: true });
      });
      await setTenantImages(db, tenant.id, { postgres: d.from, pgdataVolume: d.fromVolume });
      await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
      await failStep(db, op.id, `rolled back: ${message}`).catch(() => {});
      await ctx.audit("tenant.upgrade.rollback", slug, { what: "postgres", from: d.from, to: d.to, backup: d.backup, error: message });
      return result({ server, from: d.from, to: d.to, ok: o.rollback === true, outcome: "rolled-back", backup, error: message });
    }
  } catch (e) {
    if (e instanceof ConflictError || e instanceof LockLostError) throw e;
    if ((e as { exitCode?: number }).exitCode === 2) throw e; // bad input: one line, exit 2
    return result({ server, from, to: target, ok: false, outcome: "failed", backup, error: (e as Error).message.split("\n")[0]! });
  } finally {
    await lock.release();
  }
}

async function syncRoutesOf(ctx: Ctx, db: Db, session: ServerSession): Promise<void> {
  const { syncRoutes } = await import("../proxy.js");
  await syncRoutes(session.host, db, ctx, session.server);
}

async function countRows(session: ServerSession, slug: string): Promise<Record<string, number>> {
  const r = await session.host.run(pgCountRows(slug), { timeoutMs: 300_000 });
  const counts = parseCounts(r.stdout);
  if (!("workflow_entity" in counts)) throw new OperationError(`cannot count ${slug}'s rows: no workflow_entity table`, { code: "upgrade-rows-unknown" });
  return counts;
}

export type { TenantRow };
