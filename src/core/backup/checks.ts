import { allocateSubnet } from "../subnets.js";
import type { BackupCounts } from "./manifest.js";

// Pure pieces of restore and verify.

/** Differences between the counts a backup recorded and what the restored database holds. */
export function countMismatches(expected: BackupCounts, got: { workflows: number; credentials: number; executions: number } | null): string[] {
  if (!got) return ["could not count the restored rows"];
  return (["workflows", "credentials", "executions"] as const)
    .filter((k) => expected[k] !== null && expected[k] !== got[k])
    .map((k) => `${k}: backup has ${expected[k]}, restored ${got[k]}`);
}

/**
 * A subnet for a scratch stack (`backup verify`) from the top of the pool, away from where
 * tenant creates allocate (the bottom), so a create racing a verify does not collide.
 */
export function scratchSubnet(pool: string, prefix: number, used: readonly string[]): string | null {
  const taken = [...used];
  let last: string | null = null;
  for (;;) {
    const s = allocateSubnet(pool, prefix, taken);
    if (!s) return last;
    last = s;
    taken.push(s);
  }
}
