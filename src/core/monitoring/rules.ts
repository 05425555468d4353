// The Prometheus alert rules, rendered from the `monitoring` section of the config. Pure:
// config in, a rules file (YAML) out. Each alert has a promtool unit test in
// test/unit/monitoring/promtool/<Alert>.test.yml.

import { stringify } from "yaml";
import type { MonitoringConfig } from "../../config/monitoring-schema.js";
import { BTW_METRICS as M, JOBS } from "./jobs.js";

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "critical" | "warning" };
  annotations: { summary: string; description: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

// Real disks only: pseudo and container file systems come and go with containers.
const FS = 'fstype!~"tmpfs|devtmpfs|overlay|squashfs|nsfs|fuse.*",mountpoint!~"/run.*|/boot.*"';

/** A number as PromQL reads it, without float noise (0.1 * 100 → 10, not 10.000000000000002). */
export function num(n: number): string {
  return String(Number(n.toPrecision(12)));
}

function rule(
  alert: string,
  expr: string,
  forDuration: string,
  severity: "critical" | "warning",
  summary: string,
  description: string,
): AlertRule {
  return { alert, expr, for: forDuration, labels: { severity }, annotations: { summary, description } };
}

/** The rule groups, as data (rendered by renderAlertRules). */
export function alertRuleGroups(m: MonitoringConfig): RuleGroup[] {
  const r = m.rules;
  const staleAfterSec = Math.round((r.backupStale.scheduleHours + r.backupStale.marginHours) * 3600);
  const verifyMaxSec = Math.round(r.verifyFailing.maxAgeDays * 86400);
  const fleet: AlertRule[] = [
    rule(
      "TargetDown",
      "up == 0",
      r.targetDown.for,
      "critical",
      "{{ $labels.job }} target {{ $labels.instance }} is down",
      "Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}, server {{ $labels.server }}).",
    ),
    rule(
      "TenantNotReady",
      `probe_success{job="${JOBS.readiness}"} == 0`,
      r.tenantNotReady.for,
      "critical",
      "tenant {{ $labels.tenant }}: n8n is not ready",
      "/healthz/readiness of tenant {{ $labels.tenant }} on {{ $labels.server }} fails from outside the server. Look: btw tenant status {{ $labels.tenant }}",
    ),
    rule(
      "DiskAlmostFull",
      `100 * node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}} < ${num(r.diskFree.belowPercent)}`,
      r.diskFree.for,
      "critical",
      "{{ $labels.server }}: {{ $labels.mountpoint }} has less than " + num(r.diskFree.belowPercent) + " % free",
      "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | printf \"%.1f\" }} % free.",
    ),
    rule(
      "DiskFullSoon",
      `predict_linear(node_filesystem_avail_bytes{${FS}}[${r.diskFullSoon.lookback}], ${num(r.diskFullSoon.withinHours * 3600)}) < 0`,
      r.diskFullSoon.for,
      "warning",
      "{{ $labels.server }}: {{ $labels.mountpoint }} will be full within " + num(r.diskFullSoon.withinHours) + " h",
      "At the rate of the last " + r.diskFullSoon.lookback + ", {{ $labels.mountpoint }} on {{ $labels.instance }} fills up within " + num(r.diskFullSoon.withinHours) + " h.",
    ),
    rule(
      "MemoryPressure",
      `100 * node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < ${num(r.memoryPressure.availableBelowPercent)}`,
      r.memoryPressure.for,
      "warning",
      "{{ $labels.server }}: less than " + num(r.memoryPressure.availableBelowPercent) + " % memory available",
      "{{ $labels.instance }} has {{ $value | printf \"%.1f\" }} % of its memory available.",
    ),
    rule(
      "OomKill",
      `increase(node_vmstat_oom_kill[${r.oomKills.window}]) > 0`,
      "0s",
      "warning",
      "{{ $labels.server }}: the kernel killed a process for lack of memory",
      "{{ $value | printf \"%.0f\" }} OOM kill(s) on {{ $labels.instance }} in the last " + r.oomKills.window + ".",
    ),
    rule(
      "ContainerRestartLoop",
      `changes(container_start_time_seconds{name=~"btw-.+"}[${r.restartLoop.window}]) >= ${num(r.restartLoop.restarts)}`,
      r.restartLoop.for,
      "warning",
      "{{ $labels.server }}: container {{ $labels.name }} restarts in a loop",
      "{{ $labels.name }} started {{ $value | printf \"%.0f\" }} times in " + r.restartLoop.window + ".",
    ),
    rule(
      "CertificateExpiring",
      `probe_ssl_earliest_cert_expiry - time() < ${num(r.certExpiring.days * 86400)}`,
      r.certExpiring.for,
      "warning",
      "tenant {{ $labels.tenant }}: TLS certificate expires within " + num(r.certExpiring.days) + " days",
      "The certificate served for {{ $labels.instance }} expires in {{ $value | humanizeDuration }}.",
    ),
  ];
  // A tenant whose executions all fail may have no success series yet: `or failed * 0`
  // makes its success count 0 instead of dropping it from the sum.
  const failed = `sum by (tenant, server) (increase(n8n_workflow_failed_total[${r.executionFailures.window}]))`;
  const succeeded = `sum by (tenant, server) (increase(n8n_workflow_success_total[${r.executionFailures.window}]))`;
  const total = `(${failed} + (${succeeded} or ${failed} * 0))`;
  const tenants: AlertRule[] = [
    rule(
      "N8nExecutionFailureRate",
      `(${failed} / ${total} > ${num(r.executionFailures.ratio)}) and ${total} >= ${num(r.executionFailures.minExecutions)}`,
      r.executionFailures.for,
      "warning",
      "tenant {{ $labels.tenant }}: many n8n executions fail",
      "{{ $value | humanizePercentage }} of tenant {{ $labels.tenant }}'s executions failed over " + r.executionFailures.window + ".",
    ),
    rule(
      "N8nQueueBacklog",
      `n8n_scaling_mode_queue_jobs_waiting > ${num(r.queueBacklog.waiting)}`,
      r.queueBacklog.for,
      "warning",
      "tenant {{ $labels.tenant }}: executions pile up in the queue",
      "{{ $value }} jobs wait in tenant {{ $labels.tenant }}'s queue: its worker does not keep up or is down.",
    ),
  ];
  const btw: AlertRule[] = [
    rule(
      "TenantVolumesLarge",
      `${M.tenantDisk} > ${num(r.tenantVolumes.aboveGb * 2 ** 30)}`,
      r.tenantVolumes.for,
      "warning",
      "tenant {{ $labels.tenant }}: its volumes hold {{ $value | humanize1024 }}B",
      "The volumes of {{ $labels.tenant }} (database, n8n's files, Redis) passed " + num(r.tenantVolumes.aboveGb) +
        " GB when `btw usage collect` last measured them: one tenant filling its server's disk hurts every tenant on it. Look: btw capacity; prune its executions or binary data, or move it: btw tenant migrate {{ $labels.tenant }} --to <server>",
    ),
    rule(
      "BackupStale",
      `time() - ${M.backupLastSuccess} > ${staleAfterSec}`,
      r.backupStale.for,
      "critical",
      "tenant {{ $labels.tenant }}: no successful backup for too long",
      "The last successful backup of {{ $labels.tenant }} is {{ $value | humanizeDuration }} old (schedule " +
        num(r.backupStale.scheduleHours) + " h + margin " + num(r.backupStale.marginHours) + " h). Look: btw backup list --tenant {{ $labels.tenant }}",
    ),
    rule(
      "BackupVerifyFailing",
      `${M.verifyLastOk} == 0`,
      r.verifyFailing.for,
      "critical",
      "tenant {{ $labels.tenant }}: the last backup verify failed",
      "The newest verify of {{ $labels.tenant }}'s backups failed: a restore may not work. Look: btw backup verify --tenant {{ $labels.tenant }}",
    ),
    rule(
      "BackupVerifyStale",
      `time() - ${M.backupLastVerified} > ${verifyMaxSec}`,
      r.verifyFailing.for,
      "warning",
      "tenant {{ $labels.tenant }}: no verified backup for too long",
      "The newest verified backup of {{ $labels.tenant }} is {{ $value | humanizeDuration }} old (limit " + num(r.verifyFailing.maxAgeDays) + " days).",
    ),
    rule(
      "ScheduledJobFailed",
      `${M.jobLastExitCode} != 0`,
      r.scheduledJobFailed.for,
      "critical",
      "btw scheduled job {{ $labels.job_name }} failed",
      "The last run of {{ $labels.job_name }} exited {{ $value }}. Look: btw schedule status",
    ),
    rule(
      "BtwMetricsStale",
      `(time() - ${M.generated} > ${Math.round(r.btwMetricsStale.hours * 3600)}) or absent(${M.generated})`,
      r.btwMetricsStale.for,
      "critical",
      "btw's own metrics are stale or missing",
      "btw has not published its facts for more than " + num(r.btwMetricsStale.hours) + " h: its schedule or `btw monitoring sync` stopped, so backup alerts cannot fire.",
    ),
  ];
  return [
    { name: "btw-fleet", rules: fleet },
    { name: "btw-tenants", rules: tenants },
    { name: "btw-self", rules: btw },
  ];
}

/** The rules file Prometheus loads (rule_files). */
export function renderAlertRules(m: MonitoringConfig): string {
  return "# Generated by btw from the `monitoring` section of btw.yml; do not edit.\n" + stringify({ groups: alertRuleGroups(m) }, { lineWidth: 0 });
}
