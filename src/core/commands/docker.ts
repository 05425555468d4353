// Docker engine and Compose probes (`btw server check`). Pure argv builders.

/** Prints the engine's server version, e.g. `27.3.1`; fails if the daemon is unreachable. */
export function dockerEngineVersion(): string[] {
  return ["docker", "version", "--format", "{{.Server.Version}}"];
}

/** Prints the Compose v2 plugin version, e.g. `2.29.7` (v1 `docker-compose` is not supported). */
export function composeVersion(): string[] {
  return ["docker", "compose", "version", "--short"];
}
