import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { ageEncryptStream } from "../../core/backup/age.js";
import type { PartSource } from "../../core/backup/bundle.js";
import type { BackupManifest, BackupPart, BackupStart } from "../../core/backup/manifest.js";
import { secretsEnv, writeTarBundle } from "../../core/backup/tar-bundle.js";
import { OperationError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";

// Writes one backup object: the parts, as they stream, into a tar (backup.json, secrets.env,
// the parts' pieces, manifest.json), encrypted as age to the recipients, measured and put to
// the storage. What the tenant's backup, the tests and the bench share; the caller says where
// the parts come from and what the manifest holds.

/** Counts the bytes and hashes them on the way to the storage. */
class Meter extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  constructor(private readonly onProgress?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }
}

export interface WriteObjectOptions {
  storage: BackupStorage;
  key: string;
  start: BackupStart;
  /** written as secrets.env inside the encryption: what a restore without btw needs */
  secrets: ReadonlyMap<string, string>;
  parts: readonly PartSource[];
  finish: (parts: BackupPart[]) => BackupManifest | Promise<BackupManifest>;
  /** age recipients (age1…): the master key's and the recovery identity's */
  recipients: readonly string[];
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export interface WrittenObject {
  manifest: BackupManifest;
  sizeBytes: number;
  sha256: string;
}

export async function writeBackupObject(o: WriteObjectOptions): Promise<WrittenObject> {
  let manifest: BackupManifest | null = null;
  const bundle = Readable.from(
    (async function* () {
      for await (const chunk of writeTarBundle(o.start, secretsEnv(o.secrets), o.parts, async (p) => (manifest = await o.finish(p)))) yield chunk;
    })(),
    { objectMode: false, highWaterMark: 1024 * 1024 },
  );
  const encrypt = ageEncryptStream(o.recipients);
  const meter = new Meter(o.onProgress);
  bundle.on("error", (e) => encrypt.destroy(e));
  encrypt.on("error", (e) => meter.destroy(e));
  try {
    await o.storage.put(o.key, bundle.pipe(encrypt).pipe(meter), o.signal ? { signal: o.signal } : {});
  } finally {
    // whatever happened, stop the producers (pg_dump, the archive) rather than leave them blocked
    for (const s of [bundle, encrypt, meter]) if (!s.readableEnded) s.destroy();
  }
  if (!manifest) throw new OperationError(`backup ${o.start.id}: the stream ended without a manifest`, { code: "backup-incomplete" });
  return { manifest, sizeBytes: meter.bytes, sha256: meter.hash.digest("hex") };
}
