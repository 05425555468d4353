// What `btw status` says about each edge proxy, judged from what was read on it (pure): is it
// reachable, is its container running, does it answer the load balancer's health check, and
// does its routing table match the one the state renders. A table that differs is described
// route by route: hosts missing at the proxy, hosts it routes that the state does not, and
// hosts it sends to another server than the state's (a migration whose edge switch did not land).

import { isNoSuchContainer, isNoSuchFile, parseContainerState } from "../commands/edge-probe.js";

/** One remote command's outcome: its exit and output, or why it did not run (timeout, SSH). */
export type ProbeOutcome = { exitCode: number; stdout: string; stderr: string } | { error: string };

export interface EdgeProbe {
  proxy: string;
  address: string;
  /** null: btw reached the proxy over SSH; else why not (the other probes are then absent) */
  sshError: string | null;
  container?: ProbeOutcome;
  health?: ProbeOutcome;
  caddyfile?: ProbeOutcome;
}

/** The edge Caddyfile the state wants, or why it could not be rendered. */
export type EdgeWanted = { text: string } | { error: string };

export type EdgeDrift = "in-sync" | "drift" | "missing" | "unknown";

export interface EdgeRouteDiff {
  /** hosts the state routes and the proxy does not */
  missing: string[];
  /** hosts the proxy routes and the state does not */
  extra: string[];
  /** hosts the proxy sends elsewhere than the state: `have` at the proxy, `want` from the state */
  moved: Array<{ host: string; have: string; want: string }>;
}

export interface EdgeProxyStatus {
  proxy: string;
  address: string | null;
  reachable: boolean;
  /** one word for a human, the worst known first: UNREACHABLE, no container, stopped, UNHEALTHY, healthy */
  health: string;
  /** null: not known (unreachable) */
  running: boolean | null;
  /** the container's state as Docker tells it ("running (healthy)", "exited", "absent") */
  container: string | null;
  /** answered its health check with "ok" and Docker does not call it unhealthy; null: not known */
  healthy: boolean | null;
  drift: EdgeDrift;
  /** the route-by-route difference when drift is "drift" */
  routes: EdgeRouteDiff | null;
  detail: string | null;
  /** reachable, healthy and in sync */
  ok: boolean;
}

/**
 * host → upstream of every site of a Caddyfile: its `http://` or `https://` addresses, and
 * the first `reverse_proxy` inside (null when it has none). The catch-all `http://` block
 * (the health check) names no host and is left out, as are the global options.
 */
export function parseEdgeSites(text: string): Map<string, string | null> {
  const sites = new Map<string, string | null>();
  let depth = 0;
  let hosts: string[] = [];
  let upstream: string | null = null;
  const close = () => {
    for (const h of hosts) sites.set(h, upstream);
    hosts = [];
    upstream = null;
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (depth === 0) {
      if (!line.endsWith("{")) continue;
      hosts = siteHosts(line.slice(0, -1));
      upstream = null;
      depth = 1;
      continue;
    }
    // (a matcher first: the site's second reverse_proxy, for untrusted peers, has the same upstream)
    const rp = /^reverse_proxy\s+(?:@\S+\s+)?([^\s{]+)/.exec(line);
    if (rp && upstream === null) upstream = rp[1]!;
    if (line.endsWith("{")) depth++;
    else if (line === "}") {
      depth--;
      if (depth === 0) close();
    }
  }
  if (depth > 0) close(); // an unterminated last block still says what it routes
  return sites;
}

function siteHosts(addresses: string): string[] {
  const hosts: string[] = [];
  for (const a of addresses.split(/[\s,]+/).filter(Boolean)) {
    const m = /^https?:\/\/([^/:\s]*)(:\d+)?\/?$/i.exec(a);
    if (!m) return []; // not a site address btw writes (a snippet, a matcher block)
    if (m[1]) hosts.push(m[1].toLowerCase());
  }
  return hosts;
}

/** What the proxy's table routes differently from the state's. */
export function diffEdgeRoutes(want: ReadonlyMap<string, string | null>, have: ReadonlyMap<string, string | null>): EdgeRouteDiff {
  const missing = [...want.keys()].filter((h) => !have.has(h)).sort();
  const extra = [...have.keys()].filter((h) => !want.has(h)).sort();
  const moved = [...want.entries()]
    .filter(([h, w]) => have.has(h) && have.get(h) !== w)
    .map(([host, w]) => ({ host, have: have.get(host) ?? "(none)", want: w ?? "(none)" }))
    .sort((a, b) => (a.host < b.host ? -1 : 1));
  return { missing, extra, moved };
}

const LISTED = 3;
function list(items: readonly string[]): string {
  return items.length > LISTED ? `${items.slice(0, LISTED).join(", ")} and ${items.length - LISTED} more` : items.join(", ");
}

/** One line for a difference: "1 host missing (a.example.com); 1 routed elsewhere (b.example.com → 10.0.0.3:80, state: 10.0.0.4:80)". */
export function describeRouteDiff(d: EdgeRouteDiff): string {
  const parts: string[] = [];
  const hosts = (n: number) => `${n} host${n === 1 ? "" : "s"}`;
  if (d.missing.length) parts.push(`${hosts(d.missing.length)} missing (${list(d.missing)})`);
  if (d.extra.length) parts.push(`${hosts(d.extra.length)} not in the state (${list(d.extra)})`);
  if (d.moved.length) parts.push(`${hosts(d.moved.length)} routed elsewhere (${list(d.moved.map((m) => `${m.host} → ${m.have}, state: ${m.want}`))})`);
  return parts.length ? parts.join("; ") : "same routes, other settings differ";
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0]!.trim();
}

function failure(o: ProbeOutcome): string {
  if ("error" in o) return firstLine(o.error);
  return firstLine(o.stderr) || `exit ${o.exitCode}`;
}

function judgeDrift(caddyfile: ProbeOutcome | undefined, wanted: EdgeWanted): { drift: EdgeDrift; routes: EdgeRouteDiff | null; detail: string | null } {
  if (!caddyfile) return { drift: "unknown", routes: null, detail: null };
  if ("error" in caddyfile || caddyfile.exitCode !== 0) {
    if (!("error" in caddyfile) && isNoSuchFile(caddyfile.stderr)) return { drift: "missing", routes: null, detail: "no Caddyfile installed: `btw edge sync`" };
    return { drift: "unknown", routes: null, detail: `cannot read its Caddyfile: ${failure(caddyfile)}` };
  }
  if ("error" in wanted) return { drift: "unknown", routes: null, detail: `cannot render the state's table: ${firstLine(wanted.error)}` };
  if (caddyfile.stdout === wanted.text) return { drift: "in-sync", routes: null, detail: null };
  const routes = diffEdgeRoutes(parseEdgeSites(wanted.text), parseEdgeSites(caddyfile.stdout));
  return { drift: "drift", routes, detail: `${describeRouteDiff(routes)}: \`btw edge sync\`` };
}

function judgeHealth(p: EdgeProbe): { running: boolean | null; container: string | null; healthy: boolean | null; detail: string | null } {
  const c = p.container;
  if (!c) return { running: null, container: null, healthy: null, detail: null };
  if ("error" in c || c.exitCode !== 0) {
    if (!("error" in c) && isNoSuchContainer(c.stderr)) return { running: false, container: "absent", healthy: false, detail: "no btw-proxy container" };
    return { running: null, container: null, healthy: false, detail: `cannot inspect its container: ${failure(c)}` };
  }
  const state = parseContainerState(c.stdout);
  if (!state) return { running: null, container: null, healthy: false, detail: "cannot read its container's state" };
  const container = state.health ? `${state.status} (${state.health})` : state.status;
  if (state.status !== "running") return { running: false, container, healthy: false, detail: `btw-proxy is not running (${state.status})` };
  const h = p.health;
  const answered = h !== undefined && !("error" in h) && h.exitCode === 0 && h.stdout.trim() === "ok";
  if (!answered) {
    const why = !h ? "not asked" : !("error" in h) && h.exitCode === 0 ? `answered ${JSON.stringify(firstLine(h.stdout).slice(0, 40))}` : failure(h);
    return { running: true, container, healthy: false, detail: `health check failed: ${why}` };
  }
  if (state.health === "unhealthy") return { running: true, container, healthy: false, detail: "Docker's healthcheck says unhealthy (Caddy's admin API)" };
  return { running: true, container, healthy: true, detail: null };
}

/** One edge proxy's status from its probes and the table the state wants. */
export function judgeEdgeProxy(p: EdgeProbe, wanted: EdgeWanted): EdgeProxyStatus {
  if (p.sshError !== null) {
    return { proxy: p.proxy, address: p.address, reachable: false, health: "UNREACHABLE", running: null, container: null, healthy: null, drift: "unknown", routes: null, detail: firstLine(p.sshError), ok: false };
  }
  const health = judgeHealth(p);
  const drift = judgeDrift(p.caddyfile, wanted);
  const detail = [health.detail, drift.detail].filter((d): d is string => d !== null).join("; ") || null;
  return {
    proxy: p.proxy,
    address: p.address,
    reachable: true,
    health: healthLabel(health),
    running: health.running,
    container: health.container,
    healthy: health.healthy,
    drift: drift.drift,
    routes: drift.routes,
    detail,
    ok: health.healthy === true && drift.drift === "in-sync",
  };
}

/** The one row shown when the edge proxies cannot even be listed (no edge servers yet, no infra config). */
export function noEdgeProxies(reason: string, hint?: string): EdgeProxyStatus {
  const why = reason.split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
  const detail = `cannot list the edge proxies: ${why}${hint ? ` (${hint})` : ""}`;
  return { proxy: "(none)", address: null, reachable: false, health: "-", running: null, container: null, healthy: null, drift: "unknown", routes: null, detail, ok: false };
}

function healthLabel(h: { running: boolean | null; container: string | null; healthy: boolean | null }): string {
  if (h.container === "absent") return "no container";
  if (h.running === false) return "stopped";
  if (h.healthy === true) return "healthy";
  return h.healthy === false ? "UNHEALTHY" : "unknown";
}
