// Scrape targets from the state, prometheus.yml and btw's own metrics: pure renderers,
// then the real promtool (`check config` with the targets and rules in place, `check metrics`
// on btw's textfile).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monitoringSchema } from "../../../src/config/monitoring-schema.js";
import { imageVersion, renderBtwMetrics } from "../../../src/core/monitoring/btw-metrics.js";
import { metricsCredentialsFile, renderPrometheusConfig } from "../../../src/core/monitoring/prometheus-config.js";
import { UsageError } from "../../../src/errors.js";
import { renderAlertRules } from "../../../src/core/monitoring/rules.js";
import { privateAddress, renderScrapeTargets, type TargetsInput } from "../../../src/core/monitoring/targets.js";
import { ensurePromtool, promtool } from "../../support/promtool.js";

const monitoring = monitoringSchema.parse({});
const input: TargetsInput = {
  domain: "example.com",
  tls: "auto",
  ports: monitoring.ports,
  servers: [
    { name: "s-2", host: "203.0.113.2", status: "active", labels: { "btw-private-ip": "10.0.1.2" } },
    { name: "s-1", host: "10.0.1.1", status: "active", labels: {} },
    { name: "public", host: "203.0.113.7", status: "active", labels: {} },
    { name: "mon", host: "203.0.113.9", status: "active", labels: { "btw-role": "monitoring", "btw-private-ip": "10.0.1.9" } },
  ],
  tenants: [
    { slug: "beta", serverName: "s-2", status: "active" },
    { slug: "acme", serverName: "s-1", status: "active" },
    { slug: "gone", serverName: "s-1", status: "deleted" },
    { slug: "paused", serverName: "s-1", status: "suspended" },
    { slug: "lost", serverName: "nowhere", status: "active" },
    { slug: "open", serverName: "public", status: "active" },
  ],
};

describe("renderScrapeTargets", () => {
  const files = renderScrapeTargets(input);

  it("lists every server's node exporter and cAdvisor on its private address, labelled with its name and role", () => {
    expect(files["node.json"]).toEqual([
      { targets: ["10.0.1.9:9100"], labels: { server: "mon", role: "monitoring" } },
      { targets: ["10.0.1.1:9100"], labels: { server: "s-1", role: "tenants" } },
      { targets: ["10.0.1.2:9100"], labels: { server: "s-2", role: "tenants" } },
    ]);
    expect(files["cadvisor.json"]!.map((g) => g.targets[0])).toEqual(["10.0.1.9:8080", "10.0.1.1:8080", "10.0.1.2:8080"]);
  });

  it("scrapes each active tenant's n8n through its server's private metrics listener, with tenant and server labels", () => {
    expect(files["n8n.json"]).toEqual([
      { targets: ["10.0.1.1:9180"], labels: { tenant: "acme", server: "s-1", __metrics_path__: "/tenants/acme/metrics" } },
      { targets: ["10.0.1.2:9180"], labels: { tenant: "beta", server: "s-2", __metrics_path__: "/tenants/beta/metrics" } },
    ]);
  });

  it("probes each active tenant's readiness through its public name (http when TLS is off)", () => {
    expect(files["readiness.json"]).toEqual([
      { targets: ["https://acme.example.com/healthz/readiness"], labels: { tenant: "acme", server: "s-1" } },
      { targets: ["https://beta.example.com/healthz/readiness"], labels: { tenant: "beta", server: "s-2" } },
      { targets: ["https://open.example.com/healthz/readiness"], labels: { tenant: "open", server: "public" } },
    ]);
    const plain = renderScrapeTargets({ ...input, tls: "off" });
    expect(plain["readiness.json"]![0]!.targets).toEqual(["http://acme.example.com/healthz/readiness"]);
  });

  it("readinessProbe server: probes at the server's proxy on its private address, the public name passed as the exporter's hostname", () => {
    const files = renderScrapeTargets({ ...input, tls: "off", readinessProbe: "server" });
    expect(files["readiness.json"]).toEqual([
      { targets: ["http://10.0.1.1:80/healthz/readiness"], labels: { tenant: "acme", server: "s-1", __param_hostname: "acme.example.com" } },
      { targets: ["http://10.0.1.2:80/healthz/readiness"], labels: { tenant: "beta", server: "s-2", __param_hostname: "beta.example.com" } },
    ]);
    expect(renderScrapeTargets({ ...input, readinessProbe: "server" })["readiness.json"]![0]!.targets).toEqual(["https://10.0.1.1:443/healthz/readiness"]);
  });

  it("probes the readiness of a tenant a mutation left behind the maintenance page too (issue 22 item 12), not a suspended or deleted one; its n8n is not scraped", () => {
    const caught = ["restoring", "migrating", "upgrading", "provisioning"].map((status) => ({ slug: `mid-${status}`, serverName: "s-1", status }));
    const files = renderScrapeTargets({ ...input, tenants: [...input.tenants, ...caught, { slug: "halted", serverName: "s-1", status: "failed" }] });
    expect(files["readiness.json"]!.map((g) => g.labels.tenant)).toEqual(["acme", "beta", "mid-migrating", "mid-provisioning", "mid-restoring", "mid-upgrading", "open"]);
    expect(files["readiness.json"]!.find((g) => g.labels.tenant === "mid-restoring")).toEqual({ targets: ["https://mid-restoring.example.com/healthz/readiness"], labels: { tenant: "mid-restoring", server: "s-1" } });
    expect(files["n8n.json"]!.map((g) => g.labels.tenant)).toEqual(["acme", "beta"]);
    const atServer = renderScrapeTargets({ ...input, tenants: caught, readinessProbe: "server" });
    expect(atServer["readiness.json"]!.map((g) => g.labels.tenant)).toEqual(["mid-migrating", "mid-provisioning", "mid-restoring", "mid-upgrading"]);
  });

  it("has no cAdvisor targets when monitoring.cadvisor is off", () => {
    expect(renderScrapeTargets({ ...input, cadvisor: false })["cadvisor.json"]).toEqual([]);
  });
});

describe("privateAddress", () => {
  it("is the recorded private address, else a private host, else none: a public-only server publishes and is scraped on nothing", () => {
    expect(privateAddress({ host: "203.0.113.1", labels: { "btw-private-ip": "10.0.1.5" } })).toBe("10.0.1.5");
    for (const h of ["10.1.2.3", "172.16.0.1", "172.31.255.1", "192.168.1.1", "100.64.0.1", "fd12:3456::1"]) expect(privateAddress({ host: h, labels: {} }), h).toBe(h);
    for (const h of ["203.0.113.1", "172.32.0.1", "100.128.0.1", "2001:db8::1", "lab-1.example.com"]) expect(privateAddress({ host: h, labels: {} }), h).toBeNull();
  });

  it("leaves a public-only server out of node, cAdvisor and n8n targets but still probes its tenants", () => {
    const files = renderScrapeTargets(input);
    expect(JSON.stringify(files["node.json"])).not.toContain("public");
    expect(JSON.stringify(files["n8n.json"])).not.toContain("open");
    expect(JSON.stringify(files["readiness.json"])).toContain("open.example.com");
  });
});

describe("btw's own metrics", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  const text = renderBtwMetrics(
    {
      tenants: [
        { tenant: "beta", server: "s-2", n8nImage: null, lastBackupAt: null, lastVerifiedAt: null, lastVerifyOk: null },
        {
          tenant: "acme",
          server: "s-1",
          n8nImage: "docker.n8n.io/n8nio/n8n:2.8.4",
          lastBackupAt: new Date("2026-12-01T02:00:00Z"),
          lastVerifiedAt: new Date("2026-11-29T03:00:00Z"),
          lastVerifyOk: false,
          volumeBytes: 26843545600,
        },
      ],
      jobs: [
        { job: "backup-all", startedAt: new Date("2026-12-01T02:00:00Z"), finishedAt: new Date("2026-12-01T02:10:00Z"), exitCode: 3 },
        { job: "prune", startedAt: new Date("2026-12-01T04:00:00Z"), finishedAt: null, exitCode: null },
      ],
    },
    now,
  );
  const lines = text.split("\n");

  it("gives each tenant its newest backup and verify times, a never-backed-up tenant 0 (so the dead man's switch fires)", () => {
    expect(lines).toContain('btw_backup_last_success_timestamp_seconds{tenant="acme"} 1796090400');
    expect(lines).toContain('btw_backup_last_success_timestamp_seconds{tenant="beta"} 0');
    expect(lines).toContain('btw_backup_last_verified_timestamp_seconds{tenant="acme"} 1795921200');
    expect(lines).toContain('btw_backup_verify_last_ok{tenant="acme"} 0');
    expect(text).not.toContain('btw_backup_verify_last_ok{tenant="beta"}');
  });

  it("gives each tenant's n8n version and each job's last start and exit code (none while it runs)", () => {
    expect(lines).toContain('btw_tenant_n8n_version_info{tenant="acme",version="2.8.4"} 1');
    expect(lines).toContain('btw_tenant_n8n_version_info{tenant="beta",version="unknown"} 1');
    expect(lines).toContain('btw_schedule_job_last_exit_code{job_name="backup-all"} 3');
    expect(text).not.toContain('btw_schedule_job_last_exit_code{job_name="prune"}');
    expect(lines).toContain('btw_schedule_job_last_run_timestamp_seconds{job_name="prune"} 1796097600');
    expect(lines).toContain("btw_metrics_generated_timestamp_seconds 1796126400");
  });

  it("gives a measured tenant its volumes' bytes; a tenant never measured has no series (no alert either)", () => {
    expect(lines).toContain('btw_tenant_volume_bytes{tenant="acme"} 26843545600');
    expect(text).not.toContain('btw_tenant_volume_bytes{tenant="beta"}');
  });

  it("reads image versions by tag or digest", () => {
    expect(imageVersion("registry:5000/btw/n8n:2.6.4")).toBe("2.6.4");
    expect(imageVersion("n8nio/n8n@sha256:abc")).toBe("sha256:abc");
    expect(imageVersion("localhost:5000/n8n")).toBe("unknown");
  });

  it("is valid exposition format (promtool check metrics)", () => {
    const r = spawnSync(ensurePromtool(), ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe("prometheus.yml", () => {
  let dir: string;
  beforeAll(() => {
    ensurePromtool();
    dir = mkdtempSync(join(tmpdir(), "btw-promcfg-"));
    mkdirSync(join(dir, "targets"));
    for (const [file, groups] of Object.entries(renderScrapeTargets(input))) writeFileSync(join(dir, "targets", file), JSON.stringify(groups));
    writeFileSync(join(dir, "rules.yml"), renderAlertRules(monitoring));
    writeFileSync(
      join(dir, "prometheus.yml"),
      renderPrometheusConfig({ monitoring, targetsDir: join(dir, "targets"), rulesFile: join(dir, "rules.yml"), alertmanager: "alertmanager:9093", blackbox: "blackbox:9115", metricsServers: ["s-2", "s-1"], credentialsDir: join(dir, "secrets") }),
    );
    mkdirSync(join(dir, "secrets"));
    for (const server of ["s-1", "s-2"]) writeFileSync(join(dir, "secrets", metricsCredentialsFile(server)), "0123456789abcdef".repeat(4));
  }, 900_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes promtool check config, with its targets and rules in place", () => {
    const r = promtool(["check", "config", "prometheus.yml"], dir);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });

  it("probes readiness through the blackbox exporter, with the URL as the instance", () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cfg = parse(renderPrometheusConfig({ monitoring, targetsDir: "/t", rulesFile: "/r.yml", alertmanager: "am:9093", blackbox: "bb:9115", metricsServers: ["s-1"], credentialsDir: "/s" })) as any;
    const probe = cfg.scrape_configs.find((s: { job_name: string }) => s.job_name === "tenant-readiness");
    expect(probe.metrics_path).toBe("/probe");
    expect(probe.relabel_configs).toEqual([
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__param_target"], target_label: "instance" },
      { target_label: "__address__", replacement: "bb:9115" },
    ]);
    expect(cfg.scrape_configs.map((s: { job_name: string }) => s.job_name)).toEqual(["node", "cadvisor", "n8n-s-1", "tenant-readiness"]);
  });

  it("scrapes n8n with each server's own token from a credentials file, one scrape config per server, all labelled job n8n", () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cfg = parse(renderPrometheusConfig({ monitoring, targetsDir: "/t", rulesFile: "/r.yml", alertmanager: "am:9093", blackbox: "bb:9115", metricsServers: ["s-2", "s-1"], credentialsDir: "/etc/prometheus/secrets" })) as any;
    const n8n = cfg.scrape_configs.filter((s: { job_name: string }) => s.job_name.startsWith("n8n"));
    expect(n8n).toEqual(
      ["s-1", "s-2"].map((server) => ({
        job_name: `n8n-${server}`,
        file_sd_configs: [{ files: ["/t/n8n.json"] }],
        authorization: { type: "Bearer", credentials_file: `/etc/prometheus/secrets/metrics-${server}.token` },
        relabel_configs: [
          { source_labels: ["server"], regex: server, action: "keep" },
          { target_label: "job", replacement: "n8n" },
        ],
      })),
    );
    // a name is spliced into a regex and a path: only what a server name may be
    expect(() => renderPrometheusConfig({ monitoring, targetsDir: "/t", rulesFile: "/r.yml", alertmanager: "am:9093", blackbox: "bb:9115", metricsServers: ["s.*|x"], credentialsDir: "/s" })).toThrow(UsageError);
  });
});
