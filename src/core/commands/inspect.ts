// Reading containers' facts with the docker CLI. Output is JSON, parsed here (pure), so no
// value is ever spliced into a Go template or a shell string.

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

/** Every IPv4 subnet of every Docker network on the host, space-separated (constant script). */
export const NETWORK_SUBNETS_SCRIPT = "docker network ls -q | xargs -r docker network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}'";

export function networkSubnets(): string[] {
  return ["sh", "-c", NETWORK_SUBNETS_SCRIPT];
}

export function parseNetworkSubnets(stdout: string): string[] {
  return stdout.split(/\s+/).filter((s) => /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(s));
}
