// What a server holds under a tenant's name, to decide whether this btw state owns it
// (src/ops/stack-ownership.ts). Pure argv builders and parsers; the slug is always its own
// argv word (or "$1" of the constant script), never spliced into shell text.

import { isPgdataVolumeOf, tenantLayout } from "../tenant/layout.js";

/** Containers of the tenant's Compose project, running or not: `name|btw.state label`. */
export function stackContainers(slug: string): string[] {
  return ["docker", "ps", "-a", "--filter", `label=com.docker.compose.project=${tenantLayout(slug).project}`, "--format", '{{.Names}}|{{.Label "btw.state"}}'];
}

/** Every volume name on the server (the tenant's are picked by their layout names). */
export function volumeNames(): string[] {
  return ["docker", "volume", "ls", "--format", "{{.Name}}"];
}

/**
 * Prints `dir` when the tenant's directory exists, then the BTW_STATE its .env was written
 * with (empty when absent). Only that one line of the .env is read: it holds no secret.
 */
export const STACK_DIR_SCRIPT = 'if [ -d "$1" ]; then echo dir; sed -n "s/^BTW_STATE=//p" "$1/.env" 2>/dev/null | head -n 1; fi; true';

export function stackDir(slug: string): string[] {
  return ["sh", "-c", STACK_DIR_SCRIPT, "sh", tenantLayout(slug).dir];
}

export interface StackContainer {
  name: string;
  /** the btw.state label; "" when unlabelled (made before labels, or by hand) */
  state: string;
}

export function parseStackContainers(stdout: string): StackContainer[] {
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.indexOf("|");
      return i < 0 ? { name: l, state: "" } : { name: l.slice(0, i), state: l.slice(i + 1).trim() };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function parseStackDir(stdout: string): { exists: boolean; state: string } {
  const lines = stdout.split("\n").map((l) => l.trim());
  if (lines[0] !== "dir") return { exists: false, state: "" };
  return { exists: true, state: (lines[1] ?? "").replace(/^['"]|['"]$/g, "") };
}

/** The tenant's layout names among a server's volume names (with the data volumes Postgres upgrades made). */
export function tenantVolumesIn(slug: string, names: readonly string[]): string[] {
  const mine = new Set(Object.values(tenantLayout(slug).volumes));
  return names.filter((n) => mine.has(n) || isPgdataVolumeOf(slug, n)).sort();
}

export function tenantNetworksIn(slug: string, names: readonly string[]): string[] {
  const mine = new Set(Object.values(tenantLayout(slug).networks));
  return names.filter((n) => mine.has(n)).sort();
}
