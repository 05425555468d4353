// Names become DNS labels (<tenant>.<domain>), Compose project names (btw-<tenant>), Docker
// network names, directory names on servers and state keys. One strict rule makes all of
// those safe at once: lowercase DNS labels, nothing a shell or a path could interpret.

export const RESERVED_TENANT_NAMES: ReadonlySet<string> = new Set([
  "www", "api", "app", "admin", "administrator", "root", "mail", "smtp", "imap", "pop", "ftp", "ns1", "ns2",
  "dns", "mx", "status", "support", "help", "docs", "blog", "dashboard", "console", "billing", "auth", "login",
  "sso", "oauth", "static", "assets", "cdn", "proxy", "caddy", "traefik", "monitoring", "metrics", "grafana",
  "prometheus", "n8n", "btw", "postgres", "redis", "localhost", "test", "staging", "dev", "internal", "webhook", "webhooks",
]);

export interface NameRule {
  kind: string;
  min: number;
  max: number;
  reserved?: ReadonlySet<string>;
}

export const TENANT_NAME: NameRule = { kind: "tenant", min: 3, max: 32, reserved: RESERVED_TENANT_NAMES };
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
  if (rule.reserved?.has(name)) return `${rule.kind} name ${shown} is reserved; choose another`;
  return null;
}
