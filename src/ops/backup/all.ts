import type { Ctx } from "../../cli/context.js";
import { runBounded } from "../../core/backup/pool.js";
import { BusyError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import { DeadlineError, withDeadline } from "../../remote/deadline.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantListRow } from "../../state/tenants.js";
import { backupTenant, openServerSession, skipReason, type BackupResult, type ServerSession } from "./tenant.js";

// `backup all`: every tenant that holds data (or those of one server), with at most `total`
// backups at once and at most `perServer` on any one server (each holds a pg_dump and an
// upload). Every tenant is accounted for: backed up, failed (unreachable server, a dump that
// errors, its deadline passed) or skipped with the reason (mid-restore, mid-migration, failed,
// busy under another btw's lock); the run goes on past each. Each tenant has a deadline
// (backup.tenantTimeoutSec): a frozen server cannot hold the run, and once one of its
// tenants missed the deadline the server's other tenants fail at once instead of each
// waiting the deadline out. One run at a time: a second one exits 75 (the `bulk` lock).

export interface BackupAllOptions {
  server?: string;
  total: number;
  perServer: number;
  /** per tenant, ms */
  tenantTimeoutMs: number;
  signal?: AbortSignal;
  onDone?: (r: BackupAllItem) => void;
}

export type BackupAllItem =
  | ({ ok: true; skipped?: false } & BackupResult)
  | { ok: false; skipped: false; tenant: string; server: string; error: string; code: string; seconds: number }
  | { ok: false; skipped: true; tenant: string; server: string; status: string; reason: string; seconds: 0 };

export interface BackupAllReport {
  ok: boolean;
  seconds: number;
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  bytes: number;
  results: BackupAllItem[];
}

export const BULK_BACKUP_LOCK = { kind: "bulk" as const, name: "backup-all" };

export async function backupAll(ctx: Ctx, db: Db, storage: BackupStorage, opts: BackupAllOptions): Promise<BackupAllReport> {
  const lock = await db.tryLock(BULK_BACKUP_LOCK);
  if (!lock) throw new BusyError("another `btw backup all` is running", { hint: "wait for it to finish (cron: schedule runs further apart)" });
  try {
    const t0 = Date.now();
    const { listTenants } = await import("../../state/tenants.js");
    const { listServers } = await import("../../state/servers.js");
    // every tenant that may hold data: all but the purged
    const all = await listTenants(db, opts.server ? { serverName: opts.server } : {});
    const skipped: BackupAllItem[] = [];
    const tenants: TenantListRow[] = [];
    for (const t of all) {
      const why = skipReason(t.status);
      if (why) skipped.push({ ok: false, skipped: true, tenant: t.slug, server: t.serverName ?? "?", status: t.status, reason: why.replaceAll("<tenant>", t.slug), seconds: 0 });
      else tenants.push(t);
    }
    for (const s of skipped) opts.onDone?.(s);
    const servers = new Map((await listServers(db)).map((s) => [s.name, s as ServerRow]));
    const sessions = new Map<string, Promise<ServerSession>>();
    const frozen = new Map<string, string>();
    const session = (name: string) => {
      let s = sessions.get(name);
      if (!s) {
        s = openServerSession(ctx, servers.get(name)!).then(async (session) => {
          const { allContainerFacts } = await import("../../remote/backup-exec.js");
          session.containers = allContainerFacts(session.docker);
          session.containers.catch(() => {});
          return session;
        });
        s.catch(() => {});
        sessions.set(name, s);
      }
      return s;
    };
    const settled = await runBounded(
      tenants,
      (t: TenantListRow) => t.serverName ?? "?",
      { total: opts.total, perGroup: opts.perServer },
      async (t): Promise<BackupAllItem> => {
        const started = Date.now();
        const server = t.serverName ?? "?";
        try {
          if (opts.signal?.aborted) throw new Error("interrupted");
          const gone = frozen.get(server);
          if (gone) throw new DeadlineError(`not attempted: ${gone}`, { server });
          const ms = opts.tenantTimeoutMs;
          const error = () => new DeadlineError(`the backup of ${t.slug} on ${server} did not finish within its deadline of ${Math.round(ms / 1000)} s (backup.tenantTimeoutSec)`, { server });
          const r = await withDeadline({ ms, error, ...(opts.signal ? { signal: opts.signal } : {}) }, async (signal) =>
            backupTenant(ctx, db, storage, await session(server), t, { signal, reason: "scheduled" }),
          );
          const item: BackupAllItem = { ok: true, ...r };
          opts.onDone?.(item);
          return item;
        } catch (e) {
          const err = e as { message?: string; code?: string };
          // its own deadline or its engine's: the server is frozen, its other tenants fail at once
          if (e instanceof DeadlineError && e.server === server && !frozen.has(server)) frozen.set(server, `an earlier backup on ${server} missed its deadline (server frozen or overloaded)`);
          const item: BackupAllItem =
            e instanceof BusyError
              ? { ok: false, skipped: true, tenant: t.slug, server, status: t.status, reason: `busy: ${err.message}`, seconds: 0 }
              : { ok: false, skipped: false, tenant: t.slug, server, error: (err.message ?? String(e)).split("\n")[0]!, code: err.code ?? "failed", seconds: (Date.now() - started) / 1000 };
          opts.onDone?.(item);
          return item;
        }
      },
    );
    const results = [
      ...settled.map((s) => (s.ok ? s.value : ({ ok: false, skipped: false, tenant: s.item.slug, server: s.item.serverName ?? "?", error: String(s.error), code: "failed", seconds: 0 }) as BackupAllItem)),
      ...skipped,
    ];
    const failed = results.filter((r) => !r.ok && !r.skipped).length;
    const skippedCount = results.filter((r) => !r.ok && r.skipped).length;
    return {
      ok: failed === 0 && skippedCount === 0,
      seconds: (Date.now() - t0) / 1000,
      total: results.length,
      succeeded: results.filter((r) => r.ok).length,
      failed,
      skipped: skippedCount,
      bytes: results.reduce((n, r) => n + (r.ok ? r.sizeBytes : 0), 0),
      results,
    };
  } finally {
    await lock.release();
  }
}
