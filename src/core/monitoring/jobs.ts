// The scrape jobs btw generates and the names of btw's own metrics: the contract between the
// targets (targets.ts), the Prometheus configuration (prometheus-config.ts), the alert rules
// (rules.ts) and the metrics btw writes (btw-metrics.ts). Rules select on these names.

export const JOBS = {
  /** each server's node exporter (host metrics; on the monitoring server also btw's textfile) */
  node: "node",
  /** each server's cAdvisor (per-container metrics) */
  cadvisor: "cadvisor",
  /** each tenant's n8n /metrics, labelled tenant and server */
  n8n: "n8n",
  /** a blackbox probe of each tenant's /healthz/readiness from the monitoring server */
  readiness: "tenant-readiness",
} as const;

export const BTW_METRICS = {
  backupLastSuccess: "btw_backup_last_success_timestamp_seconds",
  backupLastVerified: "btw_backup_last_verified_timestamp_seconds",
  verifyLastOk: "btw_backup_verify_last_ok",
  n8nVersion: "btw_tenant_n8n_version_info",
  tenantDisk: "btw_tenant_volume_bytes",
  jobLastRun: "btw_schedule_job_last_run_timestamp_seconds",
  jobLastExitCode: "btw_schedule_job_last_exit_code",
  generated: "btw_metrics_generated_timestamp_seconds",
} as const;
