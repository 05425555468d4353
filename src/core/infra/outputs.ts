// The stack's outputs (`terraform output -json`) and what `infra apply` does with them in
// btw's state: register new servers, leave known ones alone, flag the ones that moved. Pure.

import { OperationError } from "../../errors.js";
import type { ServerRole } from "./spec.js";

/** One server as the stack reports it (the value of its `server_<name>` output). */
export interface ServerOutput {
  name: string;
  id: string;
  ipv4: string;
  ipv6: string;
  privateIp: string;
  role: ServerRole;
  serverType: string;
}

export function parseServerOutputs(outputJson: string): ServerOutput[] {
  let doc: Record<string, { value?: unknown }>;
  try {
    doc = JSON.parse(outputJson) as typeof doc;
  } catch {
    throw new OperationError("cannot read the stack's outputs: `output -json` did not print JSON", { code: "outputs-unreadable" });
  }
  const servers: ServerOutput[] = [];
  for (const [key, out] of Object.entries(doc ?? {})) {
    if (!key.startsWith("server_")) continue;
    const v = out?.value as Record<string, unknown> | undefined;
    if (!v || typeof v.name !== "string") continue;
    servers.push({
      name: v.name,
      id: String(v.id ?? ""),
      ipv4: String(v.ipv4 ?? ""),
      ipv6: String(v.ipv6 ?? ""),
      privateIp: String(v.private_ip ?? ""),
      role: v.role === "monitoring" || v.role === "edge" ? v.role : "tenant",
      serverType: String(v.server_type ?? ""),
    });
  }
  return servers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface KnownServer {
  id: number;
  name: string;
  host: string;
  providerId: string | null;
}

export type Registration =
  | { action: "insert"; output: ServerOutput; capacity: number }
  | { action: "unchanged"; output: ServerOutput; serverId: number }
  | { action: "conflict"; output: ServerOutput; serverId: number; reason: string };

export interface RegistrationInput {
  outputs: readonly ServerOutput[];
  known: readonly KnownServer[];
  /** capacity by server type (hetzner.serverTypes), else the fallback */
  capacities: Readonly<Record<string, { capacity: number }>>;
  defaultCapacity: number;
}

/**
 * Tenant servers only: the monitoring server takes no tenants, so btw does not place on it.
 * A known name with another provider id or address is not overwritten (its pinned host key
 * and tenants belong to the old machine): the operator decides.
 */
export function planRegistration(input: RegistrationInput): Registration[] {
  return input.outputs
    .filter((o) => o.role === "tenant")
    .map((o): Registration => {
      const byName = input.known.find((k) => k.name === o.name);
      const byId = input.known.find((k) => k.providerId === o.id);
      if (!byName && !byId) return { action: "insert", output: o, capacity: input.capacities[o.serverType]?.capacity ?? input.defaultCapacity };
      if (byId && byId.name !== o.name) return { action: "conflict", output: o, serverId: byId.id, reason: `provider id ${o.id} is registered as '${byId.name}'` };
      const k = byName!;
      if (k.providerId && k.providerId !== o.id) return { action: "conflict", output: o, serverId: k.id, reason: `'${k.name}' is registered with provider id ${k.providerId}, the stack says ${o.id}` };
      if (k.host !== o.ipv4) return { action: "conflict", output: o, serverId: k.id, reason: `'${k.name}' is registered at ${k.host}, the stack says ${o.ipv4}` };
      if (!k.providerId) return { action: "conflict", output: o, serverId: k.id, reason: `'${k.name}' was added by hand (no provider id)` };
      return { action: "unchanged", output: o, serverId: k.id };
    });
}
