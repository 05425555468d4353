// Advisory locks take one 64-bit integer. We hash kind+name into it so any name works and
// the same key is computed by every btw version; pg_locks shows it split in two 32-bit
// halves (classid, objid), which is how we find the holder of a lock we failed to get.

import { createHash } from "node:crypto";
import type { LockKey } from "./db.js";

export function lockId(key: LockKey): string {
  return `${key.kind}:${key.name}`;
}

/** Signed 64-bit key as a decimal string (pass it as `$1::bigint`). */
export function advisoryKey(key: LockKey): string {
  const digest = createHash("sha256").update(`btw-lock\0${key.kind}\0${key.name}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** The (classid, objid) pair pg_locks reports for pg_advisory_lock(bigint). */
export function advisoryKeyParts(signedKey: string): { classid: string; objid: string } {
  const unsigned = BigInt.asUintN(64, BigInt(signedKey));
  return { classid: (unsigned >> 32n).toString(), objid: (unsigned & 0xffff_ffffn).toString() };
}

export function describeLockKey(key: LockKey): string {
  switch (key.kind) {
    case "tenant":
      return `tenant '${key.name}'`;
    case "server":
      return `server '${key.name}'`;
    case "bulk":
      return `bulk operation '${key.name}'`;
    case "migrate":
      return "the state schema migration";
  }
}
