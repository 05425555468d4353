import type { HostFacts } from "../commands/host-facts.js";
import { checkIsolation, type IsolationCheck } from "./isolation-check.js";
import type { IsolationInput } from "./isolation.js";

// What `server check` concludes from what it saw: pure, so the thresholds are tested and
// the same verdict is shown by `server check`, `server show` and `doctor`.

export interface ServerProbe {
  facts: HostFacts;
  engineVersion: string | null;
  /** why the engine probe failed, when it did (one line) */
  engineError?: string;
  composeVersion: string | null;
  /** whether the engine remaps user namespaces (bootstrap turns it on for a new server); absent: not known */
  usernsRemap?: boolean;
  /** the live filter table (`iptables-save`), or why it could not be read; absent: not looked at */
  isolation?: { saved: string } | { error: string };
}

/** needs-isolation: Docker is fine but the tenant isolation rules are not in force — placement refuses it. */
export type ServerStatus = "ready" | "needs-bootstrap" | "needs-isolation" | "degraded";

export interface Verdict {
  status: ServerStatus;
  problems: string[];
  /** the live isolation rules against `expected` (judgeServer's third argument), when both were given */
  isolation?: IsolationCheck;
}

export const MIN_DISK_FREE_BYTES = 5 * 1024 ** 3;
export const MIN_MEM_AVAILABLE_BYTES = 512 * 1024 ** 2;

/**
 * `expected`: the isolation rules btw renders for this server (null or absent: not checked —
 * an edge proxy runs no tenants). A server whose rules are not in force needs isolation; one
 * whose rules differ from btw's is degraded. Each problem names its fix.
 */
export function judgeServer(name: string, p: ServerProbe, expected?: IsolationInput | null): Verdict {
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
  if (!expected || !p.isolation) return { status, problems };
  const isolation = checkIsolation(name, expected, p.isolation);
  problems.push(...isolation.problems);
  if (isolation.state === "missing" || isolation.state === "unknown") {
    if (status !== "needs-bootstrap") status = "needs-isolation";
  } else if (isolation.state === "drift" && status === "ready") status = "degraded";
  return { status, problems, isolation };
}

export function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
