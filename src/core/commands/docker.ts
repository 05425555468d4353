// Docker engine and Compose probes (`btw server check`). Pure argv builders.

/** Prints the engine's server version, e.g. `27.3.1`; fails if the daemon is unreachable. */
export function dockerEngineVersion(): string[] {
  return ["docker", "version", "--format", "{{.Server.Version}}"];
}

/** Prints the Compose v2 plugin version, e.g. `2.29.7` (v1 `docker-compose` is not supported). */
export function composeVersion(): string[] {
  return ["docker", "compose", "version", "--short"];
}

/** Prints the engine's security options as JSON, e.g. `["name=seccomp,profile=builtin","name=userns"]`. */
export function dockerSecurityOptions(): string[] {
  return ["docker", "info", "--format", "{{json .SecurityOptions}}"];
}

/** Whether the engine remaps user namespaces (`name=userns` among its security options); null when the output is not that list. */
export function parseUsernsRemap(stdout: string): boolean | null {
  let options: unknown;
  try {
    options = JSON.parse(stdout.trim());
  } catch {
    return null;
  }
  if (!Array.isArray(options) || !options.every((o) => typeof o === "string")) return null;
  return options.some((o: string) => o.split(",").includes("name=userns"));
}
