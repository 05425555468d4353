import { z } from "zod";

// The `monitoring` section: what the alert rules watch and how long a condition must last
// before an alert fires (`for:`). Every threshold is a default here, so `btw config schema`
// documents it; the lab overrides the durations with short ones.

/** A Prometheus duration such as 90s, 5m, 1h30m, 2d. */
export const promDuration = z
  .string()
  .regex(/^(?!$)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/, "must be a Prometheus duration like 30s, 5m, 1h30m");

// Pinned like images.* (schema.ts): a tag or a digest, never :latest.
const pinnedImage = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._\/:@-]*$/i, "must be an image reference")
  .refine((s) => (/:[\w][\w.-]{0,127}$/.test(s) || s.includes("@sha256:")) && !s.endsWith(":latest"), "must be pinned by a version tag or digest (not :latest)");

const forOnly = (d: string) => z.object({ for: promDuration.default(d) }).strict().prefault({});

export const monitoringSchema = z
  .object({
    images: z
      .object({
        prometheus: pinnedImage.default("prom/prometheus:v3.5.0"),
        alertmanager: pinnedImage.default("prom/alertmanager:v0.28.1"),
        blackbox: pinnedImage.default("prom/blackbox-exporter:v0.27.0"),
        grafana: pinnedImage.default("grafana/grafana:11.6.1"),
        nodeExporter: pinnedImage.default("prom/node-exporter:v1.9.1"),
        cadvisor: pinnedImage.default("gcr.io/cadvisor/cadvisor:v0.52.1"),
      })
      .strict()
      .prefault({})
      .describe("the monitoring stack's official images, pinned"),
    grafana: z.boolean().default(true).describe("run Grafana in the stack (off: dashboards elsewhere, or none)"),
    cadvisor: z.boolean().default(true).describe("run cAdvisor on every server for per-container metrics (off: none are scraped)"),
    readinessProbe: z
      .enum(["public", "server"])
      .default("public")
      .describe(
        "how the blackbox exporter reaches each tenant's /healthz/readiness: `public` by its public name, as users do; " +
          "`server` at its server's private address with the public name as Host (no public DNS, or the edge not yet in front)",
      ),
    alertmanager: z
      .object({
        groupWait: promDuration.default("30s").describe("how long a new alert group waits for more alerts before the first notification"),
        groupInterval: promDuration.default("5m").describe("how long before a group's changes (new alerts, resolutions) are sent"),
        repeatInterval: promDuration.default("4h").describe("how long before a still-firing alert is sent again"),
      })
      .strict()
      .prefault({}),
    grafanaAdminPasswordEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name")
      .default("BTW_GRAFANA_ADMIN_PASSWORD")
      .describe("the variable holding Grafana's admin password (`monitoring deploy` puts it in the stack's 0600 .env)"),
    retentionDays: z.number().int().min(1).max(3650).default(15).describe("how long Prometheus keeps samples"),
    scrapeInterval: promDuration.default("30s"),
    evaluationInterval: promDuration.default("30s"),
    textfileDir: z
      .string()
      .regex(/^\/[^\0]*[^/]$/, "must be an absolute directory path")
      .default("/var/lib/prometheus/node-exporter")
      .describe("node exporter's textfile collector directory on the monitoring server, where `monitoring sync` puts btw's own metrics"),
    ports: z
      .object({
        nodeExporter: z.number().int().min(1).max(65535).default(9100),
        cadvisor: z.number().int().min(1).max(65535).default(8080),
        n8nMetrics: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .default(9180)
          .describe("the proxy's private listener serving /tenants/<name>/metrics (never on a public listener)"),
      })
      .strict()
      .prefault({})
      .describe("on each server's private address"),
    rules: z
      .object({
        targetDown: forOnly("2m"),
        tenantNotReady: forOnly("2m"),
        diskFree: z
          .object({ belowPercent: z.number().min(1).max(99).default(15), for: promDuration.default("5m") })
          .strict()
          .prefault({}),
        diskFullSoon: z
          .object({
            withinHours: z.number().positive().default(24),
            lookback: promDuration.default("6h").describe("the window predict_linear fits its line over"),
            for: promDuration.default("30m"),
          })
          .strict()
          .prefault({}),
        memoryPressure: z
          .object({ availableBelowPercent: z.number().min(1).max(99).default(10), for: promDuration.default("5m") })
          .strict()
          .prefault({}),
        oomKills: z.object({ window: promDuration.default("30m") }).strict().prefault({}),
        restartLoop: z
          .object({ restarts: z.number().int().min(1).default(3), window: promDuration.default("15m"), for: promDuration.default("0s") })
          .strict()
          .prefault({}),
        tenantVolumes: z
          .object({
            aboveGb: z.number().positive().default(20).describe("a tenant whose volumes (database, n8n's files, Redis) pass this many GB, as `usage collect` measured them"),
            for: promDuration.default("0s"),
          })
          .strict()
          .prefault({}),
        backupStale: z
          .object({
            scheduleHours: z.number().positive().default(24).describe("how often `backup all` is meant to run"),
            marginHours: z.number().min(0).default(2).describe("grace on top of the schedule before the dead man's switch fires"),
            for: promDuration.default("0s"),
          })
          .strict()
          .prefault({}),
        verifyFailing: z
          .object({
            maxAgeDays: z.number().positive().default(8).describe("a tenant whose last verified backup is older than this alerts too"),
            for: promDuration.default("0s"),
          })
          .strict()
          .prefault({}),
        certExpiring: z
          .object({ days: z.number().positive().default(14), for: promDuration.default("1h") })
          .strict()
          .prefault({}),
        executionFailures: z
          .object({
            ratio: z.number().gt(0).max(1).default(0.25).describe("share of failed executions over the window"),
            minExecutions: z.number().int().min(1).default(10).describe("quiet below this many executions in the window"),
            window: promDuration.default("30m"),
            for: promDuration.default("15m"),
          })
          .strict()
          .prefault({}),
        queueBacklog: z
          .object({ waiting: z.number().int().min(1).default(100), for: promDuration.default("15m") })
          .strict()
          .prefault({}),
        btwMetricsStale: z
          .object({ hours: z.number().positive().default(26).describe("btw's own metrics not written for this long: cron or sync stopped"), for: promDuration.default("0s") })
          .strict()
          .prefault({}),
        scheduledJobFailed: forOnly("0s"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type MonitoringConfig = z.infer<typeof monitoringSchema>;
