// Reading containers' facts with the docker CLI. Output is JSON, parsed here (pure), so no
// value is ever spliced into a Go template or a shell string.

import { tenantLayout } from "../tenant/layout.js";

export function inspectNetworks(container: string): string[] {
  return ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container];
}

/** The container's IPv4 address on `network`, from inspectNetworks' output; null if absent. */
export function parseNetworkIp(stdout: string, network: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim());
  } catch {
    return null;
  }
  const entry = (parsed as Record<string, { IPAddress?: string }> | null)?.[network];
  return entry?.IPAddress ? entry.IPAddress : null;
}

/** Runs SQL from stdin in a tenant's Postgres container as its own role (no password needed on the socket). */
export function psqlFromStdin(container: string, user: string, database: string): string[] {
  return ["docker", "exec", "-i", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database];
}

/**
 * Every Docker network of the server, a line each: its name, then its IPv4/IPv6 subnets.
 * parseNetworkSubnets takes every subnet (a name never looks like one: no '/'); foreignSubnets
 * leaves one tenant's own networks out.
 */
export const NETWORK_SUBNETS_SCRIPT = "docker network ls -q | xargs -r docker network inspect --format '{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{end}}'";

export function networkSubnets(): string[] {
  return ["sh", "-c", NETWORK_SUBNETS_SCRIPT];
}

export function parseNetworkSubnets(stdout: string): string[] {
  return stdout.split(/\s+/).filter((s) => /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(s));
}

/**
 * The IPv4 subnets of the networks that are not `slug`'s own (btw-<slug>-…): what a subnet
 * chosen for that tenant on this server must not overlap (another btw state's tenants, a
 * network someone left). Its own are left out: a migration's rollback finds them on the source.
 */
export function foreignSubnets(stdout: string, slug: string): string[] {
  // by exact name: tenant acme's prefix btw-acme- is also tenant acme-2's
  const own = new Set(Object.values(tenantLayout(slug).networks));
  return stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([name]) => name !== undefined && name !== "" && !own.has(name))
    .flatMap(([, ...subnets]) => parseNetworkSubnets(subnets.join(" ")));
}
