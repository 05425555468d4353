// Argv for asking a proxy for tenants' pages as a visitor would (`btw status`): one remote
// command per server for all its tenants, curl on the host against the proxy's own listener
// with each tenant's host name, and the parser of its output. Pure builders and parsers.
//
// Why curl on the host and not the proxy container's own tooling: the official Caddy image
// has only BusyBox wget, which neither prints an error answer's body nor sends a chosen SNI;
// curl is on every server btw prepares (cloud-init's bootstrap installs it; so do the lab's).

import { isIP } from "node:net";
import { UsageError } from "../../errors.js";

/** Where a proxy is asked: its scheme and port as visitors reach it, at an address of the host. */
export interface RouteProbeTarget {
  scheme: "http" | "https";
  port: number;
  /** an address the proxy's port is published on (127.0.0.1 unless published on one address only) */
  address: string;
}

/** n8n's liveness endpoint: 200 `{"status":"ok"}` from the tenant's n8n, whoever answers otherwise. */
export const ROUTE_PROBE_PATH = "/healthz";

/** Seconds one request may take (connect, TLS, answer). */
export const ROUTE_PROBE_TIMEOUT_SEC = 5;

/** Requests in flight at once: bounds the whole batch to ⌈hosts / 16⌉ × 5 s on a server of many tenants. */
export const ROUTE_PROBE_PARALLEL = 16;

/** Characters of a body (or of curl's error) kept: enough for "Not found" or a page's title, never a page. */
export const ROUTE_EXCERPT_CHARS = 160;

// Arguments: scheme address port path timeout parallel excerpt host... — all in "$@", never
// in the text. `--resolve` pins each host name to the proxy's address, so the Host header
// and (with https) the SNI are the tenant's, as a visitor's are. `-k`: the probe asks which
// site answers, not whether the certificate is trusted — this request goes to the server
// itself, and with Caddy's internal CA or a certificate still being issued a visitor's check
// would fail for reasons this line does not judge. One line per host, in argument order:
//   route <host> <http code, 000 without an answer> <curl exit> <excerpt of body or error>
export const ROUTE_PROBE_SCRIPT = [
  "LC_ALL=C; export LC_ALL",
  's=$1; a=$2; p=$3; u=$4; m=$5; n=$6; x=$7; shift 7',
  'command -v curl >/dev/null 2>&1 || { echo "route-probe-error curl is not installed on the server"; exit 0; }',
  'd=$(mktemp -d) || exit 1',
  "trap 'rm -rf \"$d\"' EXIT",
  "i=0",
  'for h in "$@"; do',
  "  i=$((i+1))",
  '  ( c=$(curl -ksS -o "$d/$i.b" -w "%{http_code}" -m "$m" --resolve "$h:$p:$a" "$s://$h:$p$u" 2>"$d/$i.e"); e=$?',
  '    if [ "$e" -eq 0 ]; then f="$d/$i.b"; else f="$d/$i.e"; fi',
  '    printf "route %s %s %s %s\\n" "$h" "${c:-000}" "$e" "$(head -c "$x" "$f" 2>/dev/null | tr -c "[:print:]" " ")" > "$d/$i" ) &',
  '  [ $((i % n)) -eq 0 ] && wait',
  "done",
  "wait",
  "j=0",
  'while [ "$j" -lt "$i" ]; do j=$((j+1)); cat "$d/$j" 2>/dev/null || echo "route - 000 1 no result"; done',
].join("\n");

/** A host name as a proxy's site address holds it: a DNS name (checked: it is an argument to curl). */
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The one remote command asking `target` for ROUTE_PROBE_PATH under each of `hosts`. */
export function routeProbe(target: RouteProbeTarget, hosts: readonly string[]): string[] {
  if (target.scheme !== "http" && target.scheme !== "https") throw new UsageError(`invalid probe scheme ${JSON.stringify(target.scheme)}`, { code: "invalid-argument" });
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new UsageError(`invalid probe port ${target.port}`, { code: "invalid-port" });
  const v = isIP(target.address);
  if (v === 0) throw new UsageError(`invalid probe address ${JSON.stringify(target.address)}`, { code: "invalid-address" });
  for (const h of hosts) if (!HOST.test(h)) throw new UsageError(`invalid host name ${JSON.stringify(h)}`, { code: "invalid-argument" });
  const address = v === 6 ? `[${target.address}]` : target.address;
  return ["sh", "-c", ROUTE_PROBE_SCRIPT, "sh", target.scheme, address, String(target.port), ROUTE_PROBE_PATH, String(ROUTE_PROBE_TIMEOUT_SEC), String(ROUTE_PROBE_PARALLEL), String(ROUTE_EXCERPT_CHARS), ...hosts];
}

/** What one host's request got. */
export interface RouteAnswer {
  host: string;
  /** the HTTP status; null when nothing answered (refused, timed out, TLS failed) */
  status: number | null;
  /** the start of the body (or, without an answer, curl's error), printable characters only */
  excerpt: string;
  /** why there is no (whole) answer: curl's error; null when the request completed */
  error: string | null;
}

/** The error of a host the probe's output does not account for. */
export const NO_ROUTE_RESULT = "the probe gave no answer for this host";

/**
 * routeProbe's output → one answer per host asked, in that order. A host the output does not
 * account for (the command died, the server has no curl) gets an answer with the reason as its
 * error, so every tenant has a row.
 */
export function parseRouteProbe(stdout: string, hosts: readonly string[]): RouteAnswer[] {
  const byHost = new Map<string, RouteAnswer>();
  let failure: string | null = null;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("route-probe-error ")) failure = line.slice("route-probe-error ".length).trim();
    const m = /^route (\S+) (\d{3}) (\d+) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, host, code, exit, rest] = m;
    const text = rest!.trim().slice(0, ROUTE_EXCERPT_CHARS);
    const status = code === "000" ? null : Number(code);
    byHost.set(host!, exit === "0" ? { host: host!, status, excerpt: text, error: null } : { host: host!, status, excerpt: "", error: text || `curl exit ${exit}` });
  }
  return hosts.map((h) => byHost.get(h) ?? { host: h, status: null, excerpt: "", error: failure ?? NO_ROUTE_RESULT });
}

/** n8n's healthz, answered: 200 with `{"status":"ok"}`. Anything else is not the tenant's n8n serving. */
export function isHealthyRoute(a: RouteAnswer): boolean {
  return a.error === null && a.status === 200 && /"status"\s*:\s*"ok"/.test(a.excerpt);
}

/** One line for a person: `404 "Not found"`, `no answer: curl: (7) …`. */
export function describeRouteAnswer(a: RouteAnswer): string {
  if (a.status === null) return `no answer: ${a.error ?? "unknown"}`;
  const body = a.excerpt ? ` ${JSON.stringify(a.excerpt)}` : "";
  return a.error === null ? `${a.status}${body}` : `${a.status} (${a.error})`;
}

/** A tenant's route as `btw status` reports it: its first failing host name's answer (else its own name's), and every name's. */
export interface TenantRoute {
  /** which proxy was asked: the tenant's server's, or an edge proxy (by name) */
  via: string;
  ok: boolean;
  host: string;
  status: number | null;
  excerpt: string;
  error: string | null;
  /** every host name of the tenant asked (its own first, then its custom domains) */
  hosts: RouteAnswer[];
}

/** `answers` (a tenant's names, its own first; at least one) → its route. */
export function tenantRoute(via: string, answers: readonly RouteAnswer[]): TenantRoute {
  const shown = answers.find((a) => !isHealthyRoute(a)) ?? answers[0]!;
  return { via, ok: answers.every(isHealthyRoute), host: shown.host, status: shown.status, excerpt: shown.excerpt, error: shown.error, hosts: [...answers] };
}
