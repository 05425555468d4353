// Argv for reading an edge proxy's state (`btw status`): its live Caddyfile, its container's
// state, and its health endpoint asked from inside the container. Read-only; pure builders,
// and parsers of their output.

import { EDGE_HEALTH_PATH } from "../edge/caddyfile.js";
import { PROXY_LAYOUT } from "../proxy/layout.js";

/** The Caddyfile the edge proxy runs with (btw replaces it atomically, then reloads). */
export function readEdgeCaddyfile(): string[] {
  return ["cat", "--", PROXY_LAYOUT.caddyfile];
}

/** The proxy container's state as one JSON object (Status, Health…). */
export function edgeProxyState(): string[] {
  return ["docker", "inspect", "--type", "container", "--format", "{{json .State}}", PROXY_LAYOUT.container];
}

// The URL comes in as "$1". wget in the official (Alpine) Caddy image, curl in others — the
// one that exists answers, so a failure's message is that tool's own (not "curl: not found").
export const EDGE_HEALTH_SCRIPT = 'if command -v wget >/dev/null 2>&1; then wget -q -T 5 -O - "$1"; else curl -fsS -m 5 "$1"; fi';

/** The load balancer's health check, asked by the container itself on its port 80. */
export function edgeHealthCheck(): string[] {
  return ["docker", "exec", PROXY_LAYOUT.container, "sh", "-c", EDGE_HEALTH_SCRIPT, "sh", `http://127.0.0.1:80${EDGE_HEALTH_PATH}`];
}

export interface ContainerState {
  /** running, exited, restarting, created, paused, dead */
  status: string;
  /** Docker's healthcheck verdict (healthy, unhealthy, starting); null without one */
  health: string | null;
}

/** edgeProxyState's output → the state; null when it is not a container state. */
export function parseContainerState(stdout: string): ContainerState | null {
  let v: unknown;
  try {
    v = JSON.parse(stdout.trim());
  } catch {
    return null;
  }
  const s = v as { Status?: unknown; Health?: { Status?: unknown } | null } | null;
  if (!s || typeof s.Status !== "string") return null;
  return { status: s.Status, health: typeof s.Health?.Status === "string" ? s.Health.Status : null };
}

/** True when `docker inspect` failed only because the container does not exist. */
export function isNoSuchContainer(stderr: string): boolean {
  return /no such (container|object)/i.test(stderr);
}

/** True when `cat` failed only because the file does not exist. */
export function isNoSuchFile(stderr: string): boolean {
  return /no such file or directory/i.test(stderr);
}
