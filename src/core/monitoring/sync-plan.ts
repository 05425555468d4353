// What `btw monitoring sync` puts on the monitoring server: the files (targets, rules,
// prometheus.yml, btw's textfile metrics) and the remote commands that place them. Pure: the
// caller runs the steps over SSH, or prints them for --dry-run.

import { mkdirP, writeFileAtomic } from "../commands/files.js";
import { BTW_METRICS } from "./jobs.js";
import type { TargetFiles } from "./targets.js";

/** Where the monitoring stack lives on its server (the compose project of `monitoring deploy`). */
export const MONITORING_LAYOUT = {
  dir: "/opt/btw/monitoring",
  prometheusDir: "/opt/btw/monitoring/prometheus",
  targetsDir: "/opt/btw/monitoring/prometheus/targets",
  rulesFile: "/opt/btw/monitoring/prometheus/rules.yml",
  configFile: "/opt/btw/monitoring/prometheus/prometheus.yml",
  /** inside the Prometheus container (the prometheus dir is mounted there) */
  inContainer: { dir: "/etc/prometheus", targetsDir: "/etc/prometheus/targets", rulesFile: "/etc/prometheus/rules.yml" },
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
}

export function monitoringSyncFiles(i: SyncInput): SyncFile[] {
  const L = MONITORING_LAYOUT;
  return [
    ...Object.entries(i.targets).map(([name, groups]) => ({ path: `${L.targetsDir}/${name}`, content: JSON.stringify(groups, null, 2) + "\n", mode: "0644" })),
    { path: L.rulesFile, content: i.rules, mode: "0644" },
    { path: L.configFile, content: i.prometheusConfig, mode: "0644" },
    { path: `${i.textfileDir}/${L.textfile}`, content: i.btwMetrics, mode: "0644" },
  ];
}

export function planMonitoringSync(i: SyncInput): SyncStep[] {
  const files = monitoringSyncFiles(i);
  const dirs = [MONITORING_LAYOUT.targetsDir, i.textfileDir];
  return [
    ...dirs.map((d) => ({ argv: mkdirP(d, "0755"), describe: `mkdir -p ${d}` })),
    ...files.map((f) => ({ argv: writeFileAtomic(f.path, f.mode), input: f.content, describe: `write ${f.path} (${Buffer.byteLength(f.content)} bytes)` })),
    { argv: ["sh", "-c", RELOAD_PROMETHEUS_SCRIPT, "sh", MONITORING_LAYOUT.prometheusContainer], describe: "reload Prometheus (SIGHUP) if it runs" },
  ];
}

/** The metric names in btw's textfile, for checks that it is the right file. */
export const TEXTFILE_METRICS = Object.values(BTW_METRICS);
