// What `btw monitoring sync` puts on the monitoring server: the files (targets, rules,
// prometheus.yml, btw's textfile metrics) and the remote commands that place them. Pure: the
// caller runs the steps over SSH, or prints them for --dry-run.

import { mkdirP, writeFileAtomic } from "../commands/files.js";
import { BTW_METRICS } from "./jobs.js";
import { metricsCredentialsFile } from "./prometheus-config.js";
import type { TargetFiles } from "./targets.js";

/** `nobody` in the official prom/prometheus image (and the lab's): it owns its credentials files. */
export const PROMETHEUS_UID = 65534;

/** Where the monitoring stack lives on its server (the compose project of `monitoring deploy`). */
export const MONITORING_LAYOUT = {
  dir: "/opt/btw/monitoring",
  prometheusDir: "/opt/btw/monitoring/prometheus",
  targetsDir: "/opt/btw/monitoring/prometheus/targets",
  /** the servers' metrics tokens (0700, owned by Prometheus' user; files 0600) */
  secretsDir: "/opt/btw/monitoring/prometheus/secrets",
  rulesFile: "/opt/btw/monitoring/prometheus/rules.yml",
  configFile: "/opt/btw/monitoring/prometheus/prometheus.yml",
  /** inside the Prometheus container (the prometheus dir is mounted there) */
  inContainer: { dir: "/etc/prometheus", targetsDir: "/etc/prometheus/targets", rulesFile: "/etc/prometheus/rules.yml", secretsDir: "/etc/prometheus/secrets" },
  prometheusContainer: "btw-monitoring-prometheus",
  textfile: "btw.prom",
} as const;

// Prometheus re-reads file_sd files and node exporter the textfile on their own; rules and
// prometheus.yml need a SIGHUP. Without the stack (not deployed yet) there is nothing to tell.
export const RELOAD_PROMETHEUS_SCRIPT = 'if docker inspect "$1" >/dev/null 2>&1; then docker kill -s HUP "$1" >/dev/null; fi';

export interface SyncFile {
  path: string;
  content: string;
  mode: string;
  /** a credential: described without its size, never shown */
  secret?: boolean;
}

export interface SyncStep {
  argv: string[];
  /** the file content sent on stdin (never in argv) */
  input?: string;
  /** for --dry-run and logs */
  describe: string;
}

export interface SyncInput {
  targets: TargetFiles;
  rules: string;
  prometheusConfig: string;
  btwMetrics: string;
  textfileDir: string;
  /** server name → its metrics token (renderPrometheusConfig's metricsServers) */
  credentials: Readonly<Record<string, string>>;
}

export function monitoringSyncFiles(i: SyncInput): SyncFile[] {
  const L = MONITORING_LAYOUT;
  return [
    // before prometheus.yml names them
    ...Object.entries(i.credentials)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([server, token]) => ({ path: `${L.secretsDir}/${metricsCredentialsFile(server)}`, content: token, mode: "0600", secret: true })),
    ...Object.entries(i.targets).map(([name, groups]) => ({ path: `${L.targetsDir}/${name}`, content: JSON.stringify(groups, null, 2) + "\n", mode: "0644" })),
    { path: L.rulesFile, content: i.rules, mode: "0644" },
    { path: L.configFile, content: i.prometheusConfig, mode: "0644" },
    { path: `${i.textfileDir}/${L.textfile}`, content: i.btwMetrics, mode: "0644" },
  ];
}

export function planMonitoringSync(i: SyncInput): SyncStep[] {
  const files = monitoringSyncFiles(i);
  const L = MONITORING_LAYOUT;
  const dirs = [L.targetsDir, i.textfileDir];
  return [
    ...dirs.map((d) => ({ argv: mkdirP(d, "0755"), describe: `mkdir -p ${d}` })),
    { argv: mkdirP(L.secretsDir, "0700"), describe: `mkdir -p ${L.secretsDir}` },
    ...files.map((f) => ({ argv: writeFileAtomic(f.path, f.mode), input: f.content, describe: f.secret ? `write ${f.path} (secret, ${f.mode})` : `write ${f.path} (${Buffer.byteLength(f.content)} bytes)` })),
    // Prometheus runs as nobody: it alone reads the tokens
    { argv: ["chown", "-R", `${PROMETHEUS_UID}:${PROMETHEUS_UID}`, "--", L.secretsDir], describe: `chown the metrics tokens to Prometheus' user (${PROMETHEUS_UID})` },
    { argv: ["sh", "-c", RELOAD_PROMETHEUS_SCRIPT, "sh", MONITORING_LAYOUT.prometheusContainer], describe: "reload Prometheus (SIGHUP) if it runs" },
  ];
}

/** The metric names in btw's textfile, for checks that it is the right file. */
export const TEXTFILE_METRICS = Object.values(BTW_METRICS);
