// Prometheus' scrape targets, generated from btw's state as file_sd JSON (one file per job,
// re-read by Prometheus when it changes). Pure: servers and tenants in, files out.
//
// Everything is scraped on the servers' private addresses; the readiness probe is the one
// exception, made on purpose from outside: it goes through the public name, as users do.

import type { MonitoringConfig } from "../../config/monitoring-schema.js";
import { isTransitional } from "../tenant/unfinished.js";
import { JOBS } from "./jobs.js";

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface TargetServer {
  name: string;
  host: string;
  status: string;
  labels: Record<string, string>;
}

export interface TargetTenant {
  slug: string;
  serverName: string | null;
  status: string;
}

export interface TargetsInput {
  servers: readonly TargetServer[];
  tenants: readonly TargetTenant[];
  domain: string;
  tls: "auto" | "off";
  ports: MonitoringConfig["ports"];
  /** monitoring.cadvisor: without it, no cAdvisor targets (default true) */
  cadvisor?: boolean;
  /** monitoring.readinessProbe (default public) */
  readinessProbe?: MonitoringConfig["readinessProbe"];
}

/** Label a server registered with its private address (infra apply); the host otherwise. */
export const PRIVATE_IP_LABEL = "btw-private-ip";
export const ROLE_LABEL = "btw-role";

/** file name (in Prometheus' file_sd directory) → its groups */
export type TargetFiles = Record<`${string}.json`, TargetGroup[]>;

export const TARGET_FILES = {
  [JOBS.node]: "node.json",
  [JOBS.cadvisor]: "cadvisor.json",
  [JOBS.n8n]: "n8n.json",
  [JOBS.readiness]: "readiness.json",
} as const;

/** The path on the proxy's private listener where a tenant's n8n /metrics is served. */
export function tenantMetricsPath(slug: string): string {
  return `/tenants/${slug}/metrics`;
}

const PRIVATE_V4 = /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/;

/**
 * The address metrics are served and scraped on: the private address infra apply recorded,
 * or the host itself when it is a private (RFC 1918 / CGNAT) or unique-local address; null
 * for a server known only by a public address — nothing is published there (internal
 * endpoints are never on a public listener), and it is not scraped.
 */
export function privateAddress(s: Pick<TargetServer, "host" | "labels">): string | null {
  const label = s.labels[PRIVATE_IP_LABEL];
  if (label) return label;
  return PRIVATE_V4.test(s.host) || /^f[cd][0-9a-f]{2}:/i.test(s.host) ? s.host : null;
}

const hostPort = (a: string, port: number) => (a.includes(":") ? `[${a}]:${port}` : `${a}:${port}`);

export function renderScrapeTargets(input: TargetsInput): TargetFiles {
  const servers = [...input.servers].filter((s) => privateAddress(s) !== null).sort((a, b) => a.name.localeCompare(b.name));
  const byName = new Map(servers.map((s) => [s.name, s]));
  const known = new Set(input.servers.map((s) => s.name));
  const serverLabels = (s: TargetServer) => ({ server: s.name, role: s.labels[ROLE_LABEL] ?? "tenants" });
  // Tenants whose n8n should be up: an active tenant on a known server.
  const onKnown = [...input.tenants].filter((t) => t.serverName && known.has(t.serverName)).sort((a, b) => a.slug.localeCompare(b.slug));
  const live = onKnown.filter((t) => t.status === "active");
  // Probed from outside as customers see it: the active ones, and those a mutation left
  // behind the maintenance page (restoring, migrating, upgrading, provisioning) — a killed
  // restore nobody resumes must fail its probe and alert, not drop out of sight.
  const probed = onKnown.filter((t) => t.status === "active" || isTransitional(t.status));
  const scheme = input.tls === "auto" ? "https" : "http";
  return {
    [TARGET_FILES[JOBS.node]]: servers.map((s) => ({ targets: [hostPort(privateAddress(s)!, input.ports.nodeExporter)], labels: serverLabels(s) })),
    [TARGET_FILES[JOBS.cadvisor]]: (input.cadvisor === false ? [] : servers).map((s) => ({ targets: [hostPort(privateAddress(s)!, input.ports.cadvisor)], labels: serverLabels(s) })),
    // n8n through its server's private metrics listener: not on a server without a private address
    [TARGET_FILES[JOBS.n8n]]: live.filter((t) => byName.has(t.serverName!)).map((t) => ({
      targets: [hostPort(privateAddress(byName.get(t.serverName!)!)!, input.ports.n8nMetrics)],
      labels: { tenant: t.slug, server: t.serverName!, __metrics_path__: tenantMetricsPath(t.slug) },
    })),
    [TARGET_FILES[JOBS.readiness]]: input.readinessProbe === "server"
      // at the server's proxy, named as users name it: the exporter's `hostname` parameter
      // sets the Host header (and the TLS server name)
      ? probed.filter((t) => byName.has(t.serverName!)).map((t) => ({
          targets: [`${scheme}://${hostPort(privateAddress(byName.get(t.serverName!)!)!, scheme === "https" ? 443 : 80)}/healthz/readiness`],
          labels: { tenant: t.slug, server: t.serverName!, __param_hostname: `${t.slug}.${input.domain}` },
        }))
      : probed.map((t) => ({
          targets: [`${scheme}://${t.slug}.${input.domain}/healthz/readiness`],
          labels: { tenant: t.slug, server: t.serverName! },
        })),
  };
}
