import type { Ctx } from "../cli/context.js";
import { runBounded } from "../core/backup/pool.js";
import { BusyError } from "../errors.js";
import type { BackupStorage } from "../remote/backup-storage.js";
import type { Db } from "../state/db.js";
import type { ServerRow } from "../state/servers.js";
import type { TenantListRow } from "../state/tenants.js";
import { backupTenant, openServerSession, type BackupResult, type ServerSession } from "./backup.js";

// `backup all`: every live tenant (or those of one server), with at most `total` backups at
// once and at most `perServer` on any one server (each holds a pg_dump and an upload). A
// failure — an unreachable server, a dump that errors — is recorded and the run goes on.
// One run at a time: a second one exits 75 at once (the `bulk` advisory lock).

export interface BackupAllOptions {
  server?: string;
  total: number;
  perServer: number;
  signal?: AbortSignal;
  onDone?: (r: BackupAllItem) => void;
}

export type BackupAllItem =
  | ({ ok: true } & BackupResult)
  | { ok: false; tenant: string; server: string; error: string; code: string; seconds: number };

export interface BackupAllReport {
  ok: boolean;
  seconds: number;
  total: number;
  succeeded: number;
  failed: number;
  bytes: number;
  results: BackupAllItem[];
}

export const BULK_BACKUP_LOCK = { kind: "bulk" as const, name: "backup-all" };

export async function backupAll(ctx: Ctx, db: Db, storage: BackupStorage, opts: BackupAllOptions): Promise<BackupAllReport> {
  const lock = await db.tryLock(BULK_BACKUP_LOCK);
  if (!lock) throw new BusyError("another `btw backup all` is running", { hint: "wait for it to finish (cron: schedule runs further apart)" });
  try {
    const t0 = Date.now();
    const { listTenants } = await import("../state/tenants.js");
    const { listServers } = await import("../state/servers.js");
    const tenants = await listTenants(db, { status: ["active", "suspended"], ...(opts.server ? { serverName: opts.server } : {}) });
    const servers = new Map((await listServers(db)).map((s) => [s.name, s as ServerRow]));
    const sessions = new Map<string, Promise<ServerSession>>();
    const session = (name: string) => {
      let s = sessions.get(name);
      if (!s) {
        s = openServerSession(ctx, servers.get(name)!).then(async (session) => {
          const { allContainerFacts } = await import("../remote/backup-exec.js");
          session.containers = allContainerFacts(session.docker);
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
      async (t) => {
        const started = Date.now();
        try {
          if (opts.signal?.aborted) throw new Error("interrupted");
          const r = await backupTenant(ctx, db, storage, await session(t.serverName!), t, opts.signal ? { signal: opts.signal } : {});
          const item: BackupAllItem = { ok: true, ...r };
          opts.onDone?.(item);
          return item;
        } catch (e) {
          const err = e as { message?: string; code?: string };
          const item: BackupAllItem = {
            ok: false,
            tenant: t.slug,
            server: t.serverName ?? "?",
            error: (err.message ?? String(e)).split("\n")[0]!,
            code: err.code ?? "failed",
            seconds: (Date.now() - started) / 1000,
          };
          opts.onDone?.(item);
          return item;
        }
      },
    );
    const results = settled.map((s) => (s.ok ? s.value : ({ ok: false, tenant: s.item.slug, server: s.item.serverName ?? "?", error: String(s.error), code: "failed", seconds: 0 }) as BackupAllItem));
    const failed = results.filter((r) => !r.ok).length;
    return {
      ok: failed === 0,
      seconds: (Date.now() - t0) / 1000,
      total: results.length,
      succeeded: results.length - failed,
      failed,
      bytes: results.reduce((n, r) => n + (r.ok ? r.sizeBytes : 0), 0),
      results,
    };
  } finally {
    await lock.release();
  }
}
