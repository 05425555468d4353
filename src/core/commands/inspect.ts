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
