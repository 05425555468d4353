// Prometheus' scrape targets, generated from btw's state as file_sd JSON (one file per job,
// re-read by Prometheus when it changes). Pure: servers and tenants in, files out.
//
// Everything is scraped on the servers' private addresses; the readiness probe is the one
// exception, made on purpose from outside: it goes through the public name, as users do.

import type { MonitoringConfig } from "../../config/monitoring-schema.js";
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

function privateAddress(s: TargetServer): string {
  const a = s.labels[PRIVATE_IP_LABEL] ?? s.host;
  return a.includes(":") ? `[${a}]` : a;
}

export function renderScrapeTargets(input: TargetsInput): TargetFiles {
  const servers = [...input.servers].sort((a, b) => a.name.localeCompare(b.name));
  const byName = new Map(servers.map((s) => [s.name, s]));
  const serverLabels = (s: TargetServer) => ({ server: s.name, role: s.labels[ROLE_LABEL] ?? "tenants" });
  // Tenants whose n8n should be up: an active tenant on a known server.
  const live = [...input.tenants]
    .filter((t) => t.status === "active" && t.serverName && byName.has(t.serverName))
    .sort((a, b) => a.slug.localeCompare(b.slug));
  const scheme = input.tls === "auto" ? "https" : "http";
  return {
    [TARGET_FILES[JOBS.node]]: servers.map((s) => ({ targets: [`${privateAddress(s)}:${input.ports.nodeExporter}`], labels: serverLabels(s) })),
    [TARGET_FILES[JOBS.cadvisor]]: servers.map((s) => ({ targets: [`${privateAddress(s)}:${input.ports.cadvisor}`], labels: serverLabels(s) })),
    [TARGET_FILES[JOBS.n8n]]: live.map((t) => ({
      targets: [`${privateAddress(byName.get(t.serverName!)!)}:${input.ports.n8nMetrics}`],
      labels: { tenant: t.slug, server: t.serverName!, __metrics_path__: tenantMetricsPath(t.slug) },
    })),
    [TARGET_FILES[JOBS.readiness]]: live.map((t) => ({
      targets: [`${scheme}://${t.slug}.${input.domain}/healthz/readiness`],
      labels: { tenant: t.slug, server: t.serverName! },
    })),
  };
}
