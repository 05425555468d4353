import type { HostFacts } from "../commands/host-facts.js";

// What `server check` concludes from what it saw: pure, so the thresholds are tested and
// the same verdict is shown by `server check`, `server show` and `doctor`.

export interface ServerProbe {
  facts: HostFacts;
  engineVersion: string | null;
  /** why the engine probe failed, when it did (one line) */
  engineError?: string;
  composeVersion: string | null;
}

export type ServerStatus = "ready" | "needs-bootstrap" | "degraded";

export interface Verdict {
  status: ServerStatus;
  problems: string[];
}

export const MIN_DISK_FREE_BYTES = 5 * 1024 ** 3;
export const MIN_MEM_AVAILABLE_BYTES = 512 * 1024 ** 2;

export function judgeServer(name: string, p: ServerProbe): Verdict {
  const problems: string[] = [];
  let status: ServerStatus = "ready";
  if (!p.engineVersion) {
    status = "needs-bootstrap";
    problems.push(`no Docker engine answers on ${name}${p.engineError ? ` (${p.engineError})` : ""}: run \`btw server bootstrap ${name}\``);
  }
  if (!p.composeVersion || !/^v?2\./.test(p.composeVersion)) {
    status = "needs-bootstrap";
    problems.push(`Compose v2 is missing on ${name}${p.composeVersion ? ` (found ${p.composeVersion})` : ""}: run \`btw server bootstrap ${name}\``);
  }
  if (p.facts.diskFreeBytes < MIN_DISK_FREE_BYTES) {
    if (status === "ready") status = "degraded";
    problems.push(`only ${gib(p.facts.diskFreeBytes)} free on ${p.facts.diskPath} (want ≥ ${gib(MIN_DISK_FREE_BYTES)}): prune images (\`docker system prune\`) or grow the disk`);
  }
  if (p.facts.memAvailableBytes < MIN_MEM_AVAILABLE_BYTES) {
    if (status === "ready") status = "degraded";
    problems.push(`only ${gib(p.facts.memAvailableBytes)} memory available (want ≥ ${gib(MIN_MEM_AVAILABLE_BYTES)}): move tenants off (\`btw tenant migrate\`)`);
  }
  return { status, problems };
}

export function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
