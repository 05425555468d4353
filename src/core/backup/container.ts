import { AGE_MAGIC } from "./age.js";
import { MAGIC } from "./crypto-stream.js";

// A stored backup says what it is in its first bytes: "age-encryption.org/v1\n" (btw now: age
// around a tar, readable by standard tools) or "BTWB\0\0\0\x01" (btw's own container, written
// before the age format; still read).

export type BackupContainer = "age" | "btwb";

/** The container these first bytes begin (null: neither, or too few bytes to tell). */
export function detectContainer(first: Buffer): BackupContainer | null {
  if (first.length >= AGE_MAGIC.length && first.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC)) return "age";
  if (first.length >= MAGIC.length && first.subarray(0, MAGIC.length).equals(MAGIC)) return "btwb";
  return null;
}

/** How many first bytes detectContainer needs at most. */
export const SNIFF_BYTES = Math.max(AGE_MAGIC.length, MAGIC.length);
