import { randomBytes } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import type Dockerode from "dockerode";
import type { Ctx } from "../cli/context.js";
import type { Plan } from "../config/schema.js";
import { readBundle, type PartSink } from "../core/backup/bundle.js";
import {
  COUNTS_SQL,
  N8N_DATA_PARENT,
  composeCreateN8n,
  composeUpDatabase,
  dockerPgRestore,
  dockerVolumeRm,
  execPsql,
  execRecreateDatabase,
  execRenameOwner,
  parseCounts,
} from "../core/backup/commands.js";
import { BackupIntegrityError, decryptStream } from "../core/backup/crypto-stream.js";
import { countMismatches } from "../core/backup/checks.js";
import { PART_DATABASE, PART_N8N_DATA, dataKeyContext, escrowContext, type BackupManifest } from "../core/backup/manifest.js";
import { composeRm, composeStop, composeUp, tenantProfiles } from "../core/commands/compose.js";
import { nameProblem, TENANT_NAME } from "../core/names.js";
import { choosePlacement, placementError } from "../core/placement.js";
import { allocateSubnet } from "../core/subnets.js";
import { generateTenantSecrets } from "../core/tenant/secrets.js";
import { tenantLayout } from "../core/tenant/layout.js";
import { ConflictError, NotFoundError, OperationError, UsageError } from "../errors.js";
import type { BackupStorage } from "../remote/backup-storage.js";
import { open } from "../secrets/envelope.js";
import type { MasterKey } from "../secrets/master-key.js";
import type { BackupRow } from "../state/backups.js";
import type { Db } from "../state/db.js";
import type { ServerRow } from "../state/servers.js";
import type { TenantRow } from "../state/tenants.js";
import { asset } from "./assets.js";
import { openServerSession, type ServerSession } from "./backup.js";
import type { Host } from "./host.js";
import { ownerEmail } from "./n8n-bootstrap.js";
import { openN8nTunnel } from "./n8n-tunnel.js";
import { connectTenant, ensureProxy, syncRoutes } from "./proxy.js";
import { envFor } from "./tenant-create.js";
import { lockTenant, requirePlan } from "./tenant-context.js";
import { GENERATED, N8N_API_KEY, storeSecrets } from "./tenant-secrets.js";

// Restore: a backup back into a tenant stack — the same tenant in place, a purged tenant's
// name, or a new name (--as). The stored object is first read end to end and checked
// (decryption of every chunk, every part's sha256, the manifest) before anything changes:
// a damaged backup is refused with nothing touched. Then, on the server: the database is
// started alone and re-created, pg_restore reads the dump from stdin in one transaction,
// n8n's volume is re-created empty and the archive put in, and the stack starts with the
// escrowed N8N_ENCRYPTION_KEY (the one n8n's credentials were encrypted with).

// ---------- reading a stored backup ----------

export async function openBackupRow(db: Db, storage: BackupStorage, row: BackupRow): Promise<string> {
  if (row.status !== "done") {
    throw new ConflictError(`backup ${row.id} is ${row.status}, not a completed backup`, { code: "backup-not-done", hint: `\`btw backup list --tenant ${row.tenantSlug}\`` });
  }
  const key = storage.keyOf(row.location);
  if (!key) {
    throw new ConflictError(`backup ${row.id} lives at ${row.location}, outside the configured storage ${storage.root}`, {
      code: "backup-elsewhere",
      hint: "point backup.storage at where it was written",
    });
  }
  return key;
}

/** The stored object, decrypted as a stream (fails with BackupIntegrityError on damage). */
export async function decryptedStream(storage: BackupStorage, key: string, master: MasterKey, expectId: string): Promise<Readable> {
  const raw = await storage.get(key);
  const dec = decryptStream({
    onHeader: (h) => {
      if (h.backupId !== expectId) throw new BackupIntegrityError(`the object at ${key} holds backup ${h.backupId}, not ${expectId}`);
    },
    unwrapKey: (wrapped, h) => {
      if (h.keyId !== master.id) {
        throw new BackupIntegrityError(`backup ${expectId} was encrypted with master key ${h.keyId}, but the current master key is ${master.id}`, "use the original master key (BTW_MASTER_KEY or $BTW_HOME/master.key)");
      }
      try {
        return open(master, dataKeyContext(expectId), wrapped);
      } catch {
        throw new BackupIntegrityError(`backup ${expectId}: its data key does not open (damaged or tampered with)`);
      }
    },
  });
  raw.on("error", (e) => dec.destroy(e));
  return raw.pipe(dec);
}

/** Reads the whole object, checking everything; returns the manifest. Changes nothing. */
export async function checkBackup(storage: BackupStorage, key: string, master: MasterKey, expectId: string): Promise<BackupManifest> {
  const m = await readBundle(await decryptedStream(storage, key, master, expectId), { onPart: () => null });
  if (m.id !== expectId) throw new BackupIntegrityError(`backup content names ${m.id}, not ${expectId}`);
  return m;
}

export function openEscrow(master: MasterKey, m: BackupManifest): Map<string, string> {
  if (!m.escrow?.sealed) throw new BackupIntegrityError(`backup ${m.id} carries no escrowed secrets`);
  let secrets: Record<string, string>;
  try {
    secrets = JSON.parse(open(master, escrowContext(m.id), m.escrow.sealed).toString("utf8")) as Record<string, string>;
  } catch (e) {
    if (e instanceof Error && /master key/.test(e.message)) throw e;
    throw new BackupIntegrityError(`backup ${m.id}: the escrowed secrets do not open`);
  }
  if (!secrets[GENERATED.encryptionKey]) throw new BackupIntegrityError(`backup ${m.id} has no escrowed ${GENERATED.encryptionKey}`);
  return new Map(Object.entries(secrets));
}

// ---------- putting the data into a stack ----------

export interface RestoreDataOptions {
  session: ServerSession;
  slug: string;
  plan: Plan;
  storage: BackupStorage;
  key: string;
  master: MasterKey;
  backupId: string;
  onStep?: (title: string) => void;
  /** runs after the database and files are in, before n8n starts */
  beforeStart?: () => Promise<void>;
}

/**
 * Into the stack whose compose file and .env are already on the server: database alone,
 * re-created, restored; n8n's volume re-created and filled; then the whole stack up.
 */
export async function restoreData(o: RestoreDataOptions): Promise<BackupManifest> {
  const { host, docker } = o.session;
  const layout = tenantLayout(o.slug);
  const step = o.onStep ?? (() => {});
  step("stop n8n, start the database alone");
  await host.run(composeStop(o.slug, { services: ["worker", "n8n"], timeoutSec: 30 }), { allowFailure: true, timeoutMs: 120_000 });
  await host.run(composeUpDatabase(o.slug), { timeoutMs: 240_000 });
  const { execText, archiveIn } = await import("../remote/backup-exec.js");
  await execText(docker, layout.containers.postgres, execRecreateDatabase(), "re-create the database");
  step("re-create n8n's data volume");
  await host.run(composeRm(o.slug, ["n8n", "worker"]), { allowFailure: true, timeoutMs: 120_000 });
  await host.run(dockerVolumeRm(o.slug), { allowFailure: true });
  await host.run(composeCreateN8n(o.slug, o.plan), { timeoutMs: 120_000 });

  step("stream the backup in: pg_restore, n8n data");
  const sinkFor = (name: string): PartSink | null => {
    if (name === PART_DATABASE) {
      const input = new PassThrough({ highWaterMark: 1024 * 1024 });
      const p = host.run(dockerPgRestore(o.slug), { input, timeoutMs: 6 * 3600_000 }).then(() => undefined);
      p.catch(() => {});
      return { stream: input, done: () => p };
    }
    if (name === PART_N8N_DATA) {
      const input = new PassThrough({ highWaterMark: 1024 * 1024 });
      const p = archiveIn(docker, layout.containers.n8n, N8N_DATA_PARENT, input);
      p.catch(() => {});
      return { stream: input, done: () => p };
    }
    return null; // a part a newer btw added: checked, not used
  };
  const manifest = await readBundle(await decryptedStream(o.storage, o.key, o.master, o.backupId), { onPart: sinkFor });
  await o.beforeStart?.();

  step("start the stack and wait until healthy");
  await host.run(composeUp(o.slug, { profiles: tenantProfiles(o.plan), wait: 300 }), { timeoutMs: 330_000 });
  return manifest;
}

export async function liveCounts(docker: Dockerode, slug: string): Promise<{ workflows: number; credentials: number; executions: number } | null> {
  const { execText } = await import("../remote/backup-exec.js");
  const c = parseCounts(await execText(docker, tenantLayout(slug).containers.postgres, execPsql(COUNTS_SQL), "row counts"));
  return c ? { workflows: c.workflows, credentials: c.credentials, executions: c.executions } : null;
}

/** n8n answers on its public API with the restored key (it lives in the restored database). */
export async function checkN8n(host: Host, slug: string, apiKey: string | undefined): Promise<{ workflows: number | null }> {
  const tunnel = await openN8nTunnel(host, slug);
  try {
    const { N8nClient } = await import("../remote/n8n.js");
    const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of tenant '${slug}'` });
    await client.waitReady(180_000);
    if (!apiKey) return { workflows: null };
    return { workflows: (await client.withApiKey(apiKey).listWorkflows()).length };
  } finally {
    await tunnel.close();
  }
}

// ---------- the restore command ----------

export interface RestoreRequest {
  source: string;
  backupId?: string;
  as?: string;
  server?: string;
}

export interface RestorePlan {
  backup: BackupRow;
  key: string;
  target: string;
  /** in-place: over a live tenant; recreate: a new (or interrupted) tenant row */
  mode: "in-place" | "recreate";
  existing: TenantRow | null;
  server: ServerRow;
  planName: string;
}

export async function findBackup(db: Db, slug: string, id?: string): Promise<BackupRow> {
  const { getBackup, listBackups } = await import("../state/backups.js");
  if (id) {
    const b = await getBackup(db, id);
    if (!b) throw new NotFoundError("backup", id, { hint: "`btw backup list` shows the backups" });
    if (b.tenantSlug !== slug) throw new UsageError(`backup ${id} belongs to tenant ${b.tenantSlug}, not ${slug}`, { hint: `\`btw restore ${b.tenantSlug} --backup ${id} --as ${slug}\`` });
    return b;
  }
  const [latest] = await listBackups(db, { tenantSlug: slug, status: "done", limit: 1 });
  if (!latest) throw new NotFoundError("backup of tenant", slug, { hint: `\`btw backup tenant ${slug}\` makes one; \`btw backup list\` shows what exists` });
  return latest;
}

export async function planRestore(ctx: Ctx, db: Db, storage: BackupStorage, req: RestoreRequest): Promise<RestorePlan> {
  const target = req.as ?? req.source;
  const problem = nameProblem(target, TENANT_NAME);
  if (problem) throw new UsageError(problem, { code: "invalid-tenant-name" });
  const backup = await findBackup(db, req.source, req.backupId);
  const key = await openBackupRow(db, storage, backup);
  const { getTenant } = await import("../state/tenants.js");
  const { getServer, getServerByName, listServers } = await import("../state/servers.js");
  const existing = await getTenant(db, target);
  const manifest = backup.manifest as Partial<BackupManifest>;
  const planName = manifest.plan && ctx.config.plans[manifest.plan] ? manifest.plan : ctx.config.defaults.plan;
  if (existing && (existing.status === "active" || existing.status === "suspended")) {
    if (req.as) {
      throw new ConflictError(`tenant '${target}' already exists; --as restores into a new name`, { code: "tenant-exists", hint: `restore in place with \`btw restore ${target}\`, or pick another name` });
    }
    if (req.server) throw new UsageError("--server only places a re-created tenant; to move one use `btw tenant migrate`");
    const server = (await getServer(db, existing.serverId!))!;
    return { backup, key, target, mode: "in-place", existing, server, planName: existing.plan };
  }
  if (existing && existing.status !== "provisioning" && existing.status !== "failed") {
    throw new ConflictError(`tenant '${target}' is ${existing.status}`, { code: "tenant-wrong-status", hint: `\`btw tenant delete ${target} --purge\` first` });
  }
  if (existing) {
    // an interrupted restore (or create): finish it where the row is
    const server = (await getServer(db, existing.serverId!))!;
    return { backup, key, target, mode: "recreate", existing, server, planName: existing.plan };
  }
  const plan = requirePlan(ctx, planName);
  const servers = await listServers(db);
  const preferred = req.server ?? (manifest.server && servers.some((s) => s.name === manifest.server && s.freeCapacity >= plan.weight && s.status === "active") ? manifest.server : undefined);
  const placement = choosePlacement({
    servers: servers.map((s) => ({ name: s.name, capacity: s.capacity, used: s.usedCapacity, status: s.status === "active" ? "ready" : s.status })),
    weight: plan.weight,
    ...(preferred ? { requested: preferred } : {}),
  });
  if (!placement.ok) throw placementError(placement);
  return { backup, key, target, mode: "recreate", existing: null, server: (await getServerByName(db, placement.server))!, planName };
}

export function describeRestore(p: RestorePlan) {
  return {
    backup: p.backup.id,
    createdAt: p.backup.createdAt,
    tenant: p.target,
    mode: p.mode,
    server: p.server.name,
    plan: p.planName,
    steps: [
      "read and check the whole backup (decrypt every chunk, sha256 of each part)",
      ...(p.mode === "recreate" ? [`register tenant ${p.target} on ${p.server.name} with the escrowed N8N_ENCRYPTION_KEY`, "ship compose file and .env"] : ["stop n8n"]),
      "re-create the database and pg_restore the dump",
      "re-create n8n's data volume from the archive",
      "start the stack, wait for n8n, route it",
    ],
  };
}

export interface RestoreResult {
  tenant: string;
  backup: string;
  server: string;
  mode: RestorePlan["mode"];
  seconds: number;
  counts: { workflows: number; credentials: number; executions: number } | null;
  mismatches: string[];
}

/**
 * Secrets of a restored tenant: the escrowed ones, all of them — the restored n8n holds a
 * Postgres credential with the database password of the backup's time, so the new database
 * must get that password too. Only what the escrow lacks is generated.
 */
export function restoredSecrets(escrow: Map<string, string>): Record<string, string> {
  const fresh = generateTenantSecrets((n) => randomBytes(n));
  return {
    [GENERATED.postgresPassword]: fresh.postgresPassword,
    [GENERATED.redisPassword]: fresh.redisPassword,
    [GENERATED.ownerPassword]: fresh.ownerPassword,
    ...Object.fromEntries(escrow),
  };
}

export async function executeRestore(ctx: Ctx, db: Db, storage: BackupStorage, p: RestorePlan, onStep?: (s: string) => void): Promise<RestoreResult> {
  const t0 = Date.now();
  const step = onStep ?? ((s: string) => ctx.out.info(`· ${s}`));
  const lock = await lockTenant(db, p.target);
  const master = await ctx.master();
  try {
    step(`check backup ${p.backup.id} end to end`);
    const manifest = await checkBackup(storage, p.key, master, p.backup.id);
    const escrow = openEscrow(master, manifest);
    const plan = requirePlan(ctx, p.planName);
    const session = await openServerSession(ctx, p.server);
    const { getTenant, updateTenantStatus } = await import("../state/tenants.js");
    const { readAllSecrets } = await import("./tenant-secrets.js");

    let tenant: TenantRow;
    if (p.mode === "in-place") {
      tenant = p.existing!;
      // The restored database holds the owner and API key of the backup's time, and its
      // credentials are encrypted with the backup's key: those three come from the escrow.
      const keep = [GENERATED.encryptionKey, GENERATED.ownerPassword, N8N_API_KEY].filter((k) => escrow.has(k));
      await storeSecrets(db, master, tenant.id, Object.fromEntries(keep.map((k) => [k, escrow.get(k)!])));
    } else {
      tenant = p.existing ?? (await registerRestored(ctx, db, master, p, plan, restoredSecrets(escrow)));
      await updateTenantStatus(db, tenant.id, "provisioning");
    }
    try {
      const secrets = await readAllSecrets(db, master, tenant.id);
      const layout = tenantLayout(p.target);
      step("ship compose file and .env");
      await session.host.mkdir(layout.dir, "0700");
      await session.host.writeFile(layout.composeFile, asset("templates/tenant/compose.yml"));
      await session.host.writeFile(layout.envFile, envFor(ctx, { slug: p.target, plan, timezone: tenant.timezone, subnet: tenant.subnet! }, secrets), "0600");
      if (p.mode === "recreate") await ensureProxy(session.host, db, ctx.config, p.server.id);
      const renamed = p.target !== p.backup.tenantSlug;
      await restoreData({
        session, slug: p.target, plan, storage, key: p.key, master, backupId: p.backup.id, onStep: step,
        ...(renamed
          ? {
              beforeStart: async () => {
                const { execText } = await import("../remote/backup-exec.js");
                await execText(session.docker, tenantLayout(p.target).containers.postgres, execRenameOwner(ownerEmail(p.backup.tenantSlug, ctx.config.domain), ownerEmail(p.target, ctx.config.domain)), "rename the owner");
              },
            }
          : {}),
      });
      step("wait for n8n and check its API with the restored key");
      await checkN8n(session.host, p.target, secrets.get(N8N_API_KEY));
      const counts = await liveCounts(session.docker, p.target).catch(() => null);
      const mismatches = countMismatches(manifest.counts, counts);
      step("route the tenant");
      await connectTenant(session.host, p.target);
      await syncRoutes(session.host, db, ctx.config, p.server, [p.target]);
      await updateTenantStatus(db, tenant.id, "active");
      await ctx.audit("tenant.restore", p.target, { backup: p.backup.id, from: p.backup.tenantSlug, mode: p.mode, server: p.server.name });
      return { tenant: (await getTenant(db, p.target))!.slug, backup: p.backup.id, server: p.server.name, mode: p.mode, seconds: (Date.now() - t0) / 1000, counts, mismatches };
    } catch (e) {
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      await updateTenantStatus(db, tenant.id, "failed", { failedStep: "restore", error: message }).catch(() => {});
      throw new OperationError(`restore of ${p.target} from ${p.backup.id} failed: ${message}`, {
        code: "restore-failed",
        hint: `fix the cause and re-run \`btw restore ${p.backup.tenantSlug} --backup ${p.backup.id}${p.target !== p.backup.tenantSlug ? ` --as ${p.target}` : ""} --yes\``,
        cause: e,
      });
    }
  } finally {
    await lock.release();
  }
}

/** A new tenant row for the restore, placed and given a subnet under the server's lock. */
async function registerRestored(ctx: Ctx, db: Db, master: MasterKey, p: RestorePlan, plan: Plan, secrets: Record<string, string>): Promise<TenantRow> {
  const { insertTenant, usedSubnets } = await import("../state/tenants.js");
  const { listServers } = await import("../state/servers.js");
  const lock = await db.lock({ kind: "server", name: p.server.name }, { timeoutMs: 60_000 });
  try {
    const usage = (await listServers(db)).find((s) => s.id === p.server.id)!;
    if (usage.freeCapacity < plan.weight) {
      throw new ConflictError(`server ${p.server.name} has ${usage.freeCapacity} capacity units left, plan ${p.planName} needs ${plan.weight}`, { code: "server-full" });
    }
    const subnet = allocateSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, await usedSubnets(db, p.server.id));
    if (!subnet) throw new ConflictError(`no free subnet left on ${p.server.name}`, { code: "subnets-exhausted" });
    const manifest = p.backup.manifest as Partial<BackupManifest>;
    return await db.transaction(async (tx) => {
      const t = await insertTenant(tx, {
        slug: p.target,
        plan: p.planName,
        weight: plan.weight,
        serverId: p.server.id,
        subnet,
        timezone: manifest.timezone ?? ctx.config.defaults.timezone,
        status: "provisioning",
      });
      await storeSecrets(tx, master, t.id, secrets);
      const { appendAudit } = await import("../state/audit.js");
      await appendAudit(tx, { action: "tenant.create", target: p.target, details: { restoredFrom: p.backup.id, plan: p.planName, server: p.server.name, subnet } });
      return t;
    });
  } finally {
    await lock.release();
  }
}
