import { randomBytes } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import type Dockerode from "dockerode";
import type { Ctx } from "../../cli/context.js";
import type { Plan } from "../../config/schema.js";
import { ageDecryptStream } from "../../core/backup/age.js";
import { readBundle, type PartSink, type ReadBundleHandlers } from "../../core/backup/bundle.js";
import { SNIFF_BYTES, detectContainer, type BackupContainer } from "../../core/backup/container.js";
import { readTarBundle } from "../../core/backup/tar-bundle.js";
import {
  COUNTS_SQL,
  N8N_DATA_DIR,
  composeCreateN8n,
  composeUpDatabase,
  dockerPgRestore,
  dockerVolumeRm,
  execPsql,
  execRecreateDatabase,
  execRenameOwner,
  parseCounts,
} from "../../core/backup/commands.js";
import { BackupIntegrityError, decryptStream } from "../../core/backup/crypto-stream.js";
import { countMismatches } from "../../core/backup/checks.js";
import { PART_DATABASE, PART_N8N_DATA, dataKeyContext, escrowContext, type BackupManifest } from "../../core/backup/manifest.js";
import { composeRm, composeStop, composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { nameProblem, TENANT_NAME } from "../../core/names.js";
import { choosePlacement, placementError } from "../../core/placement.js";
import { allocateSubnet } from "../../core/subnets.js";
import { generateTenantSecrets } from "../../core/tenant/secrets.js";
import { tenantLayout, ownerEmail } from "../../core/tenant/layout.js";
import { ConflictError, NotFoundError, OperationError, UsageError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import { open } from "../../secrets/envelope.js";
import { keyById, type MasterKey } from "../../secrets/master-key.js";
import { backupIdentities } from "../../secrets/recovery-identity.js";
import type { BackupRow } from "../../state/backups.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantRow } from "../../state/tenants.js";
import { asset } from "../assets.js";
import { openServerSession, type ServerSession } from "./tenant.js";
import type { Host } from "../host.js";
import { openN8nTunnel } from "../n8n-tunnel.js";
import { lockTenant, requirePlan, envFor } from "../tenant-context.js";
import { GENERATED, N8N_API_KEY, storeSecrets } from "../tenant-secrets.js";

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

/** A btwb object (btw's own container, before age) decrypted as a stream (BackupIntegrityError on damage). */
export async function decryptedStream(storage: BackupStorage, key: string, master: MasterKey, expectId: string): Promise<Readable> {
  return decryptBtwb(await storage.get(key), key, master, expectId);
}

function decryptBtwb(raw: Readable, key: string, master: MasterKey, expectId: string): Readable {
  const dec = decryptStream({
    onHeader: (h) => {
      if (h.backupId !== expectId) throw new BackupIntegrityError(`the object at ${key} holds backup ${h.backupId}, not ${expectId}`);
    },
    unwrapKey: (wrapped, h) => {
      if (!keyById(master, h.keyId)) {
        throw new BackupIntegrityError(`backup ${expectId} was encrypted with master key ${h.keyId}, which is neither the current master key ${master.id} nor in the keyring`, "use the original master key, or `btw key import` a recovery file that holds it");
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

/**
 * Reads a stored backup end to end whatever its container — age + tar (btw now) or btwb +
 * bundle (older btw), told apart by the first bytes — routing each part to its sink; returns
 * the manifest once every part checked out.
 */
export async function readBackupObject(storage: BackupStorage, key: string, master: MasterKey, expectId: string, onPart: ReadBundleHandlers["onPart"]): Promise<BackupManifest> {
  const { format, stream } = await sniffBackup(await storage.get(key));
  if (format === "btwb") return readBundle(decryptBtwb(stream, key, master, expectId), { onPart });
  if (format !== "age") throw new BackupIntegrityError(`the object at ${key} is neither an age file nor a btw backup`);
  const held = backupIdentities(master);
  const dec = ageDecryptStream({
    identities: held,
    noKey: () =>
      new BackupIntegrityError(
        `backup ${expectId} opens with none of the ${held.length} master key(s) held (current ${master.id} and the keyring)`,
        "use the original master key, or `btw key import` a recovery file that holds it",
      ),
  });
  stream.on("error", (e) => dec.destroy(e));
  return readTarBundle(stream.pipe(dec), {
    onStart: (s) => {
      if (s.id !== expectId) throw new BackupIntegrityError(`the object at ${key} holds backup ${s.id}, not ${expectId}`);
    },
    onPart,
  });
}

/** Reads a stored backup's first bytes to tell its container; the stream returned replays them. */
export async function sniffBackup(raw: Readable): Promise<{ format: BackupContainer | null; stream: Readable }> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    len += r.value.length;
  }
  const first = Buffer.concat(head);
  const stream = Readable.from(
    (async function* () {
      try {
        if (first.length > 0) yield first;
        if (done) return;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield r.value;
        }
      } finally {
        // a reader that stops early (a damaged backup) must not leave the download open
        if (!done) await it.return?.();
      }
    })(),
    { objectMode: false },
  );
  return { format: detectContainer(first), stream };
}

/** Reads the whole object, checking everything; returns the manifest. Changes nothing. */
export async function checkBackup(storage: BackupStorage, key: string, master: MasterKey, expectId: string): Promise<BackupManifest> {
  const m = await readBackupObject(storage, key, master, expectId, () => null);
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
  const { execText, archiveIn } = await import("../../remote/backup-exec.js");
  const { tarRewrite, n8nDataEntry } = await import("../../remote/tar-filter.js");
  await execText(docker, layout.containers.postgres, execRecreateDatabase(), "re-create the database");
  step("re-create n8n's data volume");
  // Neither fails on what is not there (rm: "No stopped containers"; volume rm --force: a
  // missing volume), so a failure is real: a volume still in use would be restored over.
  await host.run(composeRm(o.slug, ["n8n", "worker"]), { timeoutMs: 120_000 });
  await host.run(dockerVolumeRm(o.slug));
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
      // into the data volume itself (the container's root filesystem is read-only), without
      // n8n's crash marker: a backup taken while n8n ran has it, and n8n would wait 10 s
      const p = archiveIn(docker, layout.containers.n8n, N8N_DATA_DIR, tarRewrite(input, n8nDataEntry));
      p.catch(() => {});
      return { stream: input, done: () => p };
    }
    return null; // a part a newer btw added: checked, not used
  };
  const manifest = await readBackupObject(o.storage, o.key, o.master, o.backupId, sinkFor);
  await o.beforeStart?.();

  step("start the stack and wait until healthy");
  await host.run(composeUp(o.slug, { profiles: tenantProfiles(o.plan), wait: 300 }), { timeoutMs: 330_000 });
  return manifest;
}

export async function liveCounts(docker: Dockerode, slug: string): Promise<{ workflows: number; credentials: number; executions: number } | null> {
  const { execText } = await import("../../remote/backup-exec.js");
  const c = parseCounts(await execText(docker, tenantLayout(slug).containers.postgres, execPsql(COUNTS_SQL), "row counts"));
  return c ? { workflows: c.workflows, credentials: c.credentials, executions: c.executions } : null;
}

/** n8n answers on its public API with the restored key (it lives in the restored database). */
export async function checkN8n(host: Host, slug: string, apiKey: string | undefined): Promise<{ workflows: number | null }> {
  const tunnel = await openN8nTunnel(host, slug);
  try {
    const { N8nClient } = await import("../../remote/n8n.js");
    const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of tenant '${slug}'` });
    await client.waitReady(180_000);
    if (!apiKey) return { workflows: null };
    return { workflows: (await client.withApiKey(apiKey).listWorkflows()).length };
  } finally {
    await tunnel.close();
  }
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

/** The images a backup was taken with (its manifest), config's where it does not say. */
export function backupImages(ctx: Ctx, m: Pick<BackupManifest, "images">): { n8n: string; postgres: string; redis: string } {
  return {
    n8n: m.images?.n8n ?? ctx.config.images.n8n,
    postgres: m.images?.postgres ?? ctx.config.images.postgres,
    redis: m.images?.redis ?? ctx.config.images.redis,
  };
}
