import { randomBytes } from "node:crypto";
import { Readable, Transform } from "node:stream";
import type { Ctx } from "../../cli/context.js";
import { encryptStream } from "../../core/backup/crypto-stream.js";
import { dataKeyContext } from "../../core/backup/manifest.js";
import { ConflictError, UsageError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import { seal } from "../../secrets/envelope.js";
import type { Db } from "../../state/db.js";
import { dumpState, loadState, stateInUse, type StateDump } from "../../state/logical-dump.js";

// The central state's own backup: a logical dump (src/state/logical-dump.ts) as JSON lines,
// encrypted in the same container as tenant backups (btwb, a data key wrapped by the master
// key: a rotated key still opens older ones through the keyring), stored beside them under
// _state/ (tenant names cannot start with "_"). _state/LATEST names the newest, so a fresh
// machine with only the storage settings and the key finds it.

export const STATE_PREFIX = "_state";
export const LATEST_KEY = `${STATE_PREFIX}/LATEST`;
const ID = /^state-\d{8}T\d{6}Z-[0-9a-f]{4}$/;
const FORMAT = "btw-state-dump";

export interface StateBackupHeader {
  format: typeof FORMAT;
  v: 1;
  id: string;
  createdAt: string;
  stateId: string | null;
  migrations: string[];
  tables: Record<string, number>;
}

export const stateObjectKey = (id: string) => `${STATE_PREFIX}/${id}.btwb`;

export function newStateBackupId(now: Date, rand = randomBytes(2).toString("hex")): string {
  return `state-${now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")}-${rand}`;
}

export function serialize(header: StateBackupHeader, dump: StateDump): Buffer[] {
  return [Buffer.from(JSON.stringify(header) + "\n"), ...dump.tables.map((t) => Buffer.from(JSON.stringify(t) + "\n"))];
}

export function parse(text: string, expectId: string): { header: StateBackupHeader; dump: StateDump } {
  const lines = text.split("\n").filter((l) => l !== "");
  const header = JSON.parse(lines[0] ?? "null") as StateBackupHeader | null;
  if (header?.format !== FORMAT || header.v !== 1 || header.id !== expectId) {
    throw new ConflictError(`${stateObjectKey(expectId)} is not a state backup this btw understands`, { code: "state-backup-invalid" });
  }
  return { header, dump: { migrations: header.migrations, tables: lines.slice(1).map((l) => JSON.parse(l) as StateDump["tables"][number]) } };
}

export interface StateBackupResult {
  id: string;
  location: string;
  sizeBytes: number;
  tables: Record<string, number>;
}

export async function backupState(ctx: Ctx, db: Db, storage: BackupStorage, now = new Date()): Promise<StateBackupResult> {
  const master = await ctx.master();
  const dump = await dumpState(db);
  const id = newStateBackupId(now);
  const tables = Object.fromEntries(dump.tables.map((t) => [t.name, t.rows.length]));
  const header: StateBackupHeader = { format: FORMAT, v: 1, id, createdAt: now.toISOString(), stateId: ctx.stateId, migrations: dump.migrations, tables };
  let sizeBytes = 0;
  const enc = encryptStream({ backupId: id, tenant: STATE_PREFIX, keyId: master.id, wrapKey: (k) => seal(master, dataKeyContext(id), k) });
  const count = new Transform({
    transform(c: Buffer, _enc, cb) {
      sizeBytes += c.length;
      cb(null, c);
    },
  });
  const source = Readable.from(serialize(header, dump));
  source.on("error", (e) => enc.destroy(e));
  enc.on("error", (e) => count.destroy(e));
  const body = source.pipe(enc).pipe(count);
  await storage.put(stateObjectKey(id), body);
  await storage.put(LATEST_KEY, Readable.from([Buffer.from(`${id}\n`)]));
  return { id, location: storage.location(stateObjectKey(id)), sizeBytes, tables };
}

export async function latestStateBackup(storage: BackupStorage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.get(LATEST_KEY)) chunks.push(Buffer.from(c as Buffer));
  const id = Buffer.concat(chunks).toString("utf8").trim();
  if (!ID.test(id)) throw new ConflictError(`${storage.location(LATEST_KEY)} does not name a state backup`, { code: "state-backup-invalid" });
  return id;
}

export interface StateRestorePlan {
  id: string;
  createdAt: string;
  stateId: string | null;
  tables: Record<string, number>;
}

/** Reads and checks the backup (decryption, format, migrations); changes nothing. */
export async function readStateBackup(ctx: Ctx, db: Db, storage: BackupStorage, requested: string | null): Promise<{ plan: StateRestorePlan; dump: StateDump }> {
  if (requested !== null && !ID.test(requested)) {
    throw new UsageError(`${JSON.stringify(requested)} is not a state backup id (state-YYYYMMDDTHHMMSSZ-xxxx)`);
  }
  const id = requested ?? (await latestStateBackup(storage));
  const { decryptedStream } = await import("../backup/restore-data.js");
  const chunks: Buffer[] = [];
  for await (const c of await decryptedStream(storage, stateObjectKey(id), await ctx.master(), id)) chunks.push(c as Buffer);
  const { header, dump } = parse(Buffer.concat(chunks).toString("utf8"), id);
  const { migrationStatus } = await import("../../state/migrate.js");
  const local = new Set((await migrationStatus(db)).applied);
  const newer = dump.migrations.filter((m) => !local.has(m));
  if (newer.length) {
    throw new ConflictError(`state backup ${id} was made by a newer btw (migrations ${newer.join(", ")})`, { code: "state-backup-newer", hint: "upgrade btw, then restore" });
  }
  return { plan: { id, createdAt: header.createdAt, stateId: header.stateId, tables: header.tables }, dump };
}

export async function refuseStateInUse(db: Db): Promise<void> {
  const used = await stateInUse(db);
  if (used.servers + used.tenants + used.backups > 0) {
    throw new ConflictError(`this state is in use (${used.servers} server(s), ${used.tenants} tenant(s), ${used.backups} backup(s)): state restore fills a fresh state only`, {
      code: "state-not-empty",
      hint: "run it on a fresh $BTW_HOME (or an empty database): `btw init`, `btw key import <file>`, `btw state restore`",
    });
  }
}

export async function restoreState(db: Db, dump: StateDump): Promise<Record<string, number>> {
  return loadState(db, dump);
}

/**
 * The state backup at the end of `backup all`: its failure is reported (the run then exits
 * partial), never thrown — the tenants' backups are done and recorded by then.
 */
export async function stateBackupAfterAll(ctx: Ctx, db: Db, storage: BackupStorage): Promise<{ ok: true; id: string } | { ok: false; error: string }> {
  try {
    const r = await backupState(ctx, db, storage);
    await ctx.audit("state.backup", r.id, { location: r.location, sizeBytes: r.sizeBytes, by: "backup all" });
    ctx.out.info(`✓ state: ${r.id}`);
    return { ok: true, id: r.id };
  } catch (e) {
    const error = (e as Error).message;
    ctx.out.warn(`the state backup failed: ${error} (retry with \`btw state backup\`)`);
    return { ok: false, error };
  }
}
