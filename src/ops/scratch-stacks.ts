import { hostname } from "node:os";
import { composeDown } from "../core/commands/compose.js";
import { purgeByLabel } from "../core/commands/tenant-purge.js";
import { parseScratchContainers, scratchContainers, scratchOwner, staleScratch, type StaleScratch } from "../core/backup/scratch.js";
import { tenantLayout } from "../core/tenant/layout.js";
import type { Host } from "./host.js";

// Scratch stacks left behind by a crashed verify (kill -9, lost SSH): found by their labels
// (btw.scratch=1, created-at, owner) and removed by the next verify, or by `doctor --fix`.

/** `<host>:<pid>` of this btw process, for the btw.owner label. */
export function thisOwner(): string {
  return scratchOwner(hostname(), process.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function findStaleScratch(host: Host, now = Date.now()): Promise<StaleScratch[]> {
  const r = await host.run(scratchContainers(), { timeoutMs: 30_000 });
  return staleScratch(parseScratchContainers(r.stdout), { now, host: thisOwner().replace(/:\d+$/, ""), isAlive });
}

/** Containers, volumes, networks and files of one scratch stack. Idempotent. */
export async function removeScratch(host: Host, slug: string): Promise<void> {
  await host.run(composeDown(slug, { volumes: true }), { allowFailure: true, timeoutMs: 180_000 });
  await host.run(purgeByLabel(slug), { allowFailure: true, timeoutMs: 120_000 });
  await host.removeTree(tenantLayout(slug).dir);
}

/** Finds and removes the server's stale scratch stacks; returns what it removed and why. */
export async function sweepStaleScratch(host: Host): Promise<StaleScratch[]> {
  const stale = await findStaleScratch(host);
  for (const s of stale) await removeScratch(host, s.slug);
  return stale;
}
