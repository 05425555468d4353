import type { Readable } from "node:stream";
import type { Config } from "../config/schema.js";

// Where encrypted backups live. Every implementation makes `put` all-or-nothing: until it
// resolves, no object exists under the key (a temp file, an unfinished multipart upload),
// and `removePartial` clears whatever an interrupted put left behind.

export interface BackupStorage {
  readonly kind: "dir" | "s3";
  /** human-readable root, e.g. /var/backups/btw or s3://bucket/btw/ */
  readonly root: string;
  /** the location recorded in the state for a key */
  location(key: string): string;
  /** the key of a location this storage wrote; null when it belongs elsewhere */
  keyOf(location: string): string | null;
  put(key: string, body: Readable, opts?: { signal?: AbortSignal }): Promise<void>;
  get(key: string): Promise<Readable>;
  /** idempotent */
  delete(key: string): Promise<void>;
  /** removes what an interrupted put of this key left (temp file, multipart parts); idempotent */
  removePartial(key: string): Promise<void>;
  /** keys of the complete objects under the root whose key starts with `prefix` (`backup import`) */
  list(prefix?: string): Promise<string[]>;
  /** names of partial uploads under the root (for checks and tests) */
  listPartials(): Promise<string[]>;
  close(): Promise<void>;
}

export async function openBackupStorage(storage: Config["backup"]["storage"], env: NodeJS.ProcessEnv, home: string): Promise<BackupStorage> {
  if (storage.type === "dir") {
    const { DirStorage, expandPath } = await import("./backup-dir.js");
    return new DirStorage(expandPath(storage.path, env, home));
  }
  const { S3Storage } = await import("./backup-s3.js");
  return S3Storage.fromConfig(storage, env);
}
