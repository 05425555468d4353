// Argv for the server's proxy (templates/proxy/compose.yml): its Compose project, joining
// and leaving tenants' edge networks, validating and reloading the Caddyfile. Pure builders.

import { PROXY_LAYOUT } from "../proxy/layout.js";
import { tenantLayout } from "../tenant/layout.js";

function proxyComposeBase(): string[] {
  const l = PROXY_LAYOUT;
  return ["docker", "compose", "-p", l.project, "--project-directory", l.dir, "-f", l.composeFile, "--env-file", l.envFile];
}

/** Create or converge the proxy container. */
export function proxyComposeUp(opts: { wait?: boolean } = {}): string[] {
  return [...proxyComposeBase(), "up", "-d", "--remove-orphans", ...(opts.wait ? ["--wait"] : [])];
}

/** Remove the proxy container and its network; `volumes: true` also drops certificates. */
export function proxyComposeDown(opts: { volumes: boolean }): string[] {
  return [...proxyComposeBase(), "down", "--remove-orphans", ...(opts.volumes ? ["--volumes"] : [])];
}

export function proxyComposePs(): string[] {
  return [...proxyComposeBase(), "ps", "--all", "--format", "json"];
}

export function proxyComposeConfigCheck(): string[] {
  return [...proxyComposeBase(), "config", "--quiet"];
}

/** Attach the proxy to a tenant's edge network (fails if already attached: see isAlreadyConnected). */
export function proxyConnectTenant(slug: string): string[] {
  return ["docker", "network", "connect", tenantLayout(slug).networks.edge, PROXY_LAYOUT.container];
}

/**
 * Detach the proxy from a tenant's edge network, before `compose down` removes it (Docker
 * refuses to remove a network a container still uses). `--force` also works when the proxy
 * container is stopped.
 */
export function proxyDisconnectTenant(slug: string): string[] {
  return ["docker", "network", "disconnect", "--force", tenantLayout(slug).networks.edge, PROXY_LAYOUT.container];
}

/** True when `docker network connect` failed only because the proxy is already attached. */
export function isAlreadyConnected(stderr: string): boolean {
  return /endpoint with name \S+ already exists in network|is already attached to network|already exists in network/i.test(stderr);
}

/** True when `docker network disconnect` failed only because there was nothing to undo. */
export function isNotConnected(stderr: string): boolean {
  return /is not connected to (the )?network|network \S+ not found|No such network/i.test(stderr);
}

/** Check a Caddyfile inside the running proxy (default: the candidate, Caddyfile.next). */
export function caddyValidate(path: string = PROXY_LAYOUT.inContainer.caddyfileNext): string[] {
  return ["docker", "exec", PROXY_LAYOUT.container, "caddy", "validate", "--config", path, "--adapter", "caddyfile"];
}

/**
 * Load /etc/caddy/Caddyfile through Caddy's admin API. Graceful: the new config replaces the
 * old one atomically, open connections finish, other sites never stop serving; a config
 * that fails to load leaves the old one running (and this command exits non-zero).
 */
export function caddyReload(): string[] {
  return ["docker", "exec", PROXY_LAYOUT.container, "caddy", "reload", "--config", PROXY_LAYOUT.inContainer.caddyfile, "--adapter", "caddyfile"];
}

/** The networks the proxy container is attached to, as one JSON object keyed by network name. */
export function proxyAttachedNetworks(): string[] {
  return ["docker", "inspect", "--type", "container", "--format", "{{json .NetworkSettings.Networks}}", PROXY_LAYOUT.container];
}

/** Every network on the server, one name per line. */
export function networkNames(): string[] {
  return ["docker", "network", "ls", "--format", "{{.Name}}"];
}

/** proxyAttachedNetworks' output → network names ([] when the container does not exist). */
export function parseAttachedNetworks(stdout: string): string[] {
  const text = stdout.trim();
  if (text === "" || text === "null") return [];
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" ? Object.keys(v).sort() : [];
  } catch {
    return [];
  }
}
