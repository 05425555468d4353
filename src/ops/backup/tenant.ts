import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import type { Ctx } from "../../cli/context.js";
import type { PartSource } from "../../core/backup/bundle.js";
import {
  COUNTS_SQL,
  N8N_DATA_DIR,
  execN8nPackageJson,
  execPgDump,
  execPsql,
  execRedisQueueDepth,
  parseCounts,
  parseN8nVersion,
  parseQueueDepth,
} from "../../core/backup/commands.js";
import { consistencyOf, type QueueDepth } from "../../core/backup/consistency.js";
import {
  BACKUP_FORMAT,
  PART_DATABASE,
  PART_N8N_DATA,
  backupId,
  backupKey,
  escrowContext,
  type BackupCounts,
  type BackupManifest,
  type BackupStart,
} from "../../core/backup/manifest.js";
import { tenantLayout } from "../../core/tenant/layout.js";
import { ConflictError, OperationError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import { seal } from "../../secrets/envelope.js";
import type { MasterKey } from "../../secrets/master-key.js";
import { backupRecipients } from "../../secrets/recovery-identity.js";
import type { BackupReason } from "../../state/backups.js";
import type { Db, Lock } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantRow, TenantStatus } from "../../state/tenants.js";
import type { Host } from "../host.js";
import { hostFor, lockTenant } from "../tenant-context.js";
import { GENERATED, readAllSecrets } from "../tenant-secrets.js";

// One backup of one tenant: pg_dump (custom format) streamed out of its Postgres container
// and the n8n data directory streamed as tar, both through the Docker API over SSH, put in a
// tar with a manifest (src/core/backup/tar-bundle.ts), encrypted here in the age format to
// the master key's recipient and the recovery identity (so standard tools open it: README,
// "Restoring a tenant without btw") and streamed to the storage. No file is written on the
// server; memory stays bounded by the tar piece and upload part sizes. Backups of older btw
// (the "btwb" container) stay readable: the reader goes by the object's first bytes.
//
// The dump comes first and n8n's files after it, while n8n serves; Redis is not taken. Why
// that order loses least, and what a restore may lack, is in core/backup/consistency.ts and
// recorded in each manifest (`consistency`), shown by `backup show` and `backup verify`.
//
// The state row is inserted `running` before anything is uploaded and becomes `done` only
// after the storage confirmed the whole object. Its runner holds an advisory lock named after
// the backup, so a later run can tell a crashed backup (lock free) from a live one and remove
// what it left (cleanupInterrupted).

/** One SSH connection and one Docker API forward per server, shared by a bulk run. */
export interface ServerSession {
  server: ServerRow;
  host: Host;
  docker: Dockerode;
  /** per run: n8n version by image id (one exec per image, not per tenant) */
  n8nVersions?: Map<string, Promise<string | null>>;
  /** per run: every btw container's image and state, listed once (bulk runs) */
  containers?: Promise<Map<string, { image: string | null; imageId: string; running: boolean }>>;
}

export async function openServerSession(ctx: Ctx, server: ServerRow): Promise<ServerSession> {
  const host = await hostFor(ctx, server);
  await host.ssh.connect();
  const { remoteDocker } = await import("../../remote/docker.js");
  const rd = await remoteDocker(host.ssh);
  ctx.onClose(() => rd.close());
  return { server, host, docker: rd.docker };
}

export interface BackupResult {
  id: string;
  tenant: string;
  server: string;
  location: string;
  sizeBytes: number;
  sha256: string;
  seconds: number;
  counts: BackupCounts;
  n8nVersion: string | null;
}

export const runnerLock = (id: string) => ({ kind: "bulk" as const, name: `backup-run:${id}` });

async function countRows(docker: Dockerode, container: string): Promise<{ serverVersionNum: number; workflows: number; credentials: number; executions: number } | null> {
  const { execText } = await import("../../remote/backup-exec.js");
  try {
    return parseCounts(await execText(docker, container, execPsql(COUNTS_SQL), "row counts"));
  } catch {
    return null;
  }
}

/** n8n's version, asked once per image and server in a run; null when n8n is not running. */
function n8nVersionOf(session: ServerSession, n8n: { imageId?: string; running: boolean }, ask: () => Promise<string | null>): Promise<string | null> {
  if (!n8n.running) return Promise.resolve(null);
  if (!n8n.imageId) return ask();
  session.n8nVersions ??= new Map();
  let v = session.n8nVersions.get(n8n.imageId);
  if (!v) {
    v = ask();
    session.n8nVersions.set(n8n.imageId, v);
  }
  return v;
}

export interface BackupTenantOptions {
  signal?: AbortSignal;
  /** called as bytes reach the storage (bench, progress) */
  onProgress?: (bytes: number) => void;
  /** why it is taken (recorded on the row); default manual */
  reason?: BackupReason;
  /**
   * The caller already holds the tenant's lock exclusively (a restore, a migration, a purge
   * taking its safety or final backup): no shared lock is taken, and the stack may be in the
   * caller's own transitional status.
   */
  heldLock?: Lock;
}

/** Statuses whose stack is in its normal state and may be backed up by anyone. */
export const BACKUPABLE: readonly TenantStatus[] = ["active", "suspended"];

/** Why a tenant holding data is not backed up now (null: it can be). */
export function skipReason(status: TenantStatus): string | null {
  switch (status) {
    case "active":
    case "suspended":
      return null;
    case "restoring":
      return "a restore is replacing its data (finish it: `btw restore <tenant>`, or `--rollback`)";
    case "upgrading":
      return "an upgrade is recreating its n8n (finish it: `btw upgrade n8n --tenant <tenant> --to <version>`)";
    case "migrating":
      return "a migration is moving it (finish it: `btw tenant migrate <tenant> --to <server>`, or `--rollback`)";
    case "provisioning":
      return "its create did not finish (finish it: `btw tenant create <tenant>`)";
    case "failed":
      return "its last operation failed; its stack is not in a known state (`btw tenant show <tenant>`)";
    case "deleting":
      return "it is out of service, data kept (`btw tenant delete <tenant> --purge` takes a final backup first)";
    case "deleted":
      return "it was purged";
  }
}

export async function backupTenant(
  ctx: Ctx,
  db: Db,
  storage: BackupStorage,
  session: ServerSession,
  tenant: TenantRow,
  opts: BackupTenantOptions = {},
): Promise<BackupResult> {
  const tenantLock = opts.heldLock ?? (await lockTenant(db, tenant.slug, { shared: true }));
  try {
    // the row as it is now, under the lock: not the (possibly stale) copy the caller listed
    const { getTenantById } = await import("../../state/tenants.js");
    const now = opts.heldLock ? tenant : ((await getTenantById(db, tenant.id)) ?? tenant);
    const why = opts.heldLock ? null : skipReason(now.status);
    if (why) throw new ConflictError(`cannot back up tenant '${tenant.slug}': it is ${now.status} — ${why.replaceAll("<tenant>", tenant.slug)}`, { code: "tenant-wrong-status" });
    return await backupLocked(ctx, db, storage, session, now, tenantLock, opts);
  } finally {
    if (!opts.heldLock) await tenantLock.release();
  }
}

async function backupLocked(
  ctx: Ctx,
  db: Db,
  storage: BackupStorage,
  session: ServerSession,
  tenant: TenantRow,
  tenantLock: Lock,
  opts: BackupTenantOptions,
): Promise<BackupResult> {
  const t0 = Date.now();
  const mark = (what: string) => ctx.out.verbose(`  ${tenant.slug}: ${what} at +${((Date.now() - t0) / 1000).toFixed(2)} s`);
  const master = await ctx.master();
  const { docker, server } = session;
  const layout = tenantLayout(tenant.slug);
  const { execStream, execText, archiveOut, containerFacts } = await import("../../remote/backup-exec.js");

  const { allContainerFacts } = await import("../../remote/backup-exec.js");
  // a bulk run lists a server's containers once; a single backup looks now
  const listed = await (session.containers ?? allContainerFacts(docker));
  const [pg, n8n, redis] = [layout.containers.postgres, layout.containers.n8n, layout.containers.redis].map((n) => listed.get(n) ?? null);
  if (!pg?.running) {
    throw new OperationError(`${tenant.slug}'s Postgres container is not running on ${server.name}`, { code: "postgres-not-running", hint: `\`btw tenant status ${tenant.slug}\`` });
  }
  if (!n8n) throw new OperationError(`${tenant.slug}'s n8n container does not exist on ${server.name}`, { code: "n8n-missing", hint: `\`btw tenant status ${tenant.slug}\`` });
  // independent round trips, at once: n8n's version, the row counts before the dump, secrets
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const [n8nVersion, before, secrets, deployed] = await Promise.all([
    n8nVersionOf(session, n8n, () => execText(docker, layout.containers.n8n, execN8nPackageJson(), "n8n version").then(parseN8nVersion, () => null)),
    countRows(docker, layout.containers.postgres),
    readAllSecrets(db, master, tenant.id),
    currentWorkflowDeployments(db, tenant.id),
  ]);
  if (!secrets.get(GENERATED.encryptionKey)) {
    throw new OperationError(`tenant ${tenant.slug} has no ${GENERATED.encryptionKey} in the state: a backup without it could not restore credentials`, { code: "secret-missing" });
  }

  const createdAt = new Date();
  const id = backupId(tenant.slug, createdAt, randomBytes(3).toString("hex"));
  const key = backupKey(tenant.slug, id);
  const location = storage.location(key);
  const start: BackupStart = {
    format: BACKUP_FORMAT,
    id,
    tenant: tenant.slug,
    createdAt: createdAt.toISOString(),
    server: server.name,
    plan: tenant.plan,
    timezone: tenant.timezone,
    n8nVersion,
    images: { n8n: n8n.image, postgres: pg.image, redis: redis?.image ?? null },
    workflows: deployed.map((d) => ({ key: d.workflowKey, version: d.version, n8nId: d.n8nId, checksum: d.checksum, templateSha256: d.templateSha256 })),
  };
  const escrow = { keyId: master.id, sealed: seal(master, escrowContext(id), JSON.stringify(Object.fromEntries(secrets))), names: [...secrets.keys()].sort() };
  const { recipients, createdRecovery } = backupRecipients(master, ctx.home, ctx.env);
  if (createdRecovery) ctx.out.warn(`created the backup recovery identity ${ctx.home}/recovery-identity.txt: keep a copy offline (\`btw key export --recovery\`)`);

  mark("facts, version, counts, secrets");
  const { insertBackup, completeBackup, failBackup } = await import("../../state/backups.js");
  const lock: Lock | null = await db.tryLock(runnerLock(id));
  await tenantLock.check();
  await insertBackup(db, { id, tenantId: tenant.id, tenantSlug: tenant.slug, location, n8nVersion, manifest: { ...start }, reason: opts.reason ?? "manual" });
  try {
    const parts: PartSource[] = [];
    let dump: Awaited<ReturnType<typeof execStream>> | null = null;
    let after: ReturnType<typeof countRows> = Promise.resolve(null);
    const queueMode = ctx.config.plans[tenant.plan]?.queueMode ?? listed.has(layout.containers.worker);
    let queue: Promise<QueueDepth | null> = Promise.resolve(null);
    const at = { dumpStarted: new Date(), dumpFinished: new Date(), archiveStarted: new Date(), archiveFinished: new Date() };
    let n8nRunning = n8n.running;
    parts.push({
      name: PART_DATABASE,
      open: async () => {
        at.dumpStarted = new Date();
        // counted as the dump takes its snapshot: the jobs a restore of it leaves unrun
        if (queueMode && redis?.running) queue = execText(docker, layout.containers.redis, execRedisQueueDepth(), "the job queue's depth").then(parseQueueDepth, () => null);
        dump = await execStream(docker, layout.containers.postgres, execPgDump(before?.serverVersionNum ?? null), "pg_dump");
        return dump.stdout;
      },
      finished: async () => {
        await dump!.finished();
        at.dumpFinished = new Date();
        mark("database dumped");
        // counted while the n8n data streams: the counts bracket the dump, not the archive
        after = countRows(docker, layout.containers.postgres);
      },
    });
    parts.push({
      name: PART_N8N_DATA,
      open: async () => {
        at.archiveStarted = new Date();
        // as it is now, not as listed when a bulk run began
        n8nRunning ||= (await containerFacts(docker, layout.containers.n8n).catch(() => null))?.running ?? true;
        return archiveOut(docker, layout.containers.n8n, N8N_DATA_DIR);
      },
      finished: async () => {
        at.archiveFinished = new Date();
      },
    });
    const finish = async (done: BackupManifest["parts"]): Promise<BackupManifest> => {
      mark("n8n data archived");
      const counted = await after;
      const same = (k: "workflows" | "credentials" | "executions") => (before && counted && before[k] === counted[k] ? before[k] : null);
      const consistency = consistencyOf({
        queueMode,
        n8nRunning,
        dumpStartedAt: at.dumpStarted,
        dumpFinishedAt: at.dumpFinished,
        archiveStartedAt: at.archiveStarted,
        archiveFinishedAt: at.archiveFinished,
        queue: await queue,
      });
      return { ...start, finishedAt: new Date().toISOString(), parts: done, counts: { workflows: same("workflows"), credentials: same("credentials"), executions: same("executions") }, escrow, consistency };
    };
    const { writeBackupObject } = await import("./object.js");
    const written = await writeBackupObject({ storage, key, start, secrets, parts, finish, recipients, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    mark("stored");
    const { sha256, sizeBytes, manifest: m } = written;
    // a backup whose protection lapsed (its state connection died) might hold a stack that
    // was changed under it: never record it done
    await tenantLock.check();
    await completeBackup(db, id, { sizeBytes, sha256, manifest: m as unknown as Record<string, unknown> });
    return { id, tenant: tenant.slug, server: server.name, location, sizeBytes, sha256, seconds: (Date.now() - t0) / 1000, counts: m.counts, n8nVersion };
  } catch (e) {
    const message = describeFailure(e, opts.signal);
    await storage.removePartial(key).catch(() => {});
    await storage.delete(key).catch(() => {});
    await failBackup(db, id, message).catch(() => {});
    if (opts.signal?.aborted) throw new OperationError(`backup ${id} of ${tenant.slug} was interrupted; nothing was kept`, { code: "backup-interrupted", cause: e });
    throw e;
  } finally {
    await lock?.release();
  }
}

function describeFailure(e: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return "interrupted";
  return ((e as Error)?.message ?? String(e)).split("\n")[0]!.slice(0, 500);
}

/**
 * Rows left `running` by a btw that died (its runner lock is free): their partial object is
 * removed from the storage (temp file, unfinished multipart upload, or an object whose row
 * was never completed) and the row is marked failed. Returns the ids cleaned.
 */
export async function cleanupInterrupted(db: Db, storage: BackupStorage): Promise<string[]> {
  const { listBackups, failBackup } = await import("../../state/backups.js");
  const cleaned: string[] = [];
  for (const row of await listBackups(db, { status: "running" })) {
    const lock = await db.tryLock(runnerLock(row.id));
    if (!lock) continue; // a live backup
    try {
      const key = storage.keyOf(row.location);
      if (key) {
        await storage.removePartial(key);
        await storage.delete(key);
      }
      await failBackup(db, row.id, "interrupted: its btw process ended before the upload completed; partial object removed");
      cleaned.push(row.id);
    } finally {
      await lock.release();
    }
  }
  return cleaned;
}

/**
 * Aborts `signal` on SIGINT/SIGTERM while fn runs, so uploads are aborted and cleaned up.
 * `on`, not `once`: execa's signal-exit may re-raise the signal at us after its own handler
 * ran (it counts its registrations, not the listeners); a listener still in place keeps that
 * second delivery from killing the process mid-cleanup.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSignal = () => {
    if (!ac.signal.aborted) ac.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await fn(ac.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export async function storageFor(ctx: Ctx): Promise<BackupStorage> {
  const { openBackupStorage } = await import("../../remote/backup-storage.js");
  const s = await openBackupStorage(ctx.config.backup.storage, ctx.env, ctx.home);
  ctx.onClose(() => s.close());
  return s;
}

export type { MasterKey };
