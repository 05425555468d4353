// Names become DNS labels (<tenant>.<domain>), Compose project names (btw-<tenant>), Docker
// network names, directory names on servers and state keys. One strict rule makes all of
// those safe at once: lowercase DNS labels, nothing a shell or a path could interpret.

import { SCRATCH_SLUG } from "./backup/scratch.js";
import { ownNames } from "./server/own-names.js";

/** Words a customer's host name should not be (they read as the operator's own services). */
const RESERVED_WORDS = [
  "www", "api", "app", "admin", "administrator", "root", "mail", "smtp", "imap", "pop", "ftp", "ns1", "ns2",
  "dns", "mx", "status", "support", "help", "docs", "blog", "dashboard", "console", "billing", "auth", "login",
  "sso", "oauth", "static", "assets", "cdn", "proxy", "caddy", "traefik", "monitoring", "metrics", "grafana",
  "prometheus", "n8n", "btw", "postgres", "redis", "localhost", "test", "staging", "dev", "internal", "webhook", "webhooks",
];

/** Why a tenant may not be called `name` (btw's own stacks and directories first), or null. */
export function reservedTenantName(name: string): string | null {
  const own = ownNames().get(name);
  if (own !== undefined) return own;
  // a verify's scratch stack is laid out as a tenant of that name (ops/backup/verify.ts)
  if (SCRATCH_SLUG.test(name)) return "backup verify's scratch stacks";
  return RESERVED_WORDS.includes(name) ? "" : null;
}

export interface NameRule {
  kind: string;
  min: number;
  max: number;
  /** why a name is reserved ("" when it goes without saying), or null when it is free */
  reserved?: (name: string) => string | null;
}

export const TENANT_NAME: NameRule = { kind: "tenant", min: 3, max: 32, reserved: reservedTenantName };
export const SERVER_NAME: NameRule = { kind: "server", min: 1, max: 48 };

/** Returns why the name is invalid (one line, says how to fix), or null when it is valid. */
export function nameProblem(name: string, rule: NameRule): string | null {
  const shown = JSON.stringify(name);
  if (name.length < rule.min || name.length > rule.max) {
    return `${rule.kind} name ${shown} must be ${rule.min}–${rule.max} characters (it has ${name.length})`;
  }
  if (/[A-Z]/.test(name)) {
    const lower = name.toLowerCase();
    return `${rule.kind} name ${shown} has uppercase letters; use lowercase${nameProblem(lower, rule) === null ? ` (${JSON.stringify(lower)})` : ""}`;
  }
  if (!/^[a-z0-9-]+$/.test(name)) return `${rule.kind} name ${shown} may only contain a-z, 0-9 and '-'`;
  if (name.startsWith("-") || name.endsWith("-")) return `${rule.kind} name ${shown} must not start or end with '-'`;
  if (name.includes("--")) return `${rule.kind} name ${shown} must not contain '--'`;
  const reserved = rule.reserved?.(name) ?? null;
  if (reserved !== null) return `${rule.kind} name ${shown} is reserved${reserved ? ` (${reserved})` : ""}; choose another`;
  return null;
}
