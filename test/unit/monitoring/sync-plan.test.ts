// `monitoring sync`'s plan: the exact remote argv (quoted by the one SSH join, contents on
// stdin) and the files it places.
import { describe, expect, it } from "vitest";
import { WRITE_FILE_ATOMIC_SCRIPT } from "../../../src/core/commands/files.js";
import { MONITORING_LAYOUT, RELOAD_PROMETHEUS_SCRIPT, planMonitoringSync } from "../../../src/core/monitoring/sync-plan.js";

const input = {
  targets: { "node.json": [{ targets: ["10.0.1.2:9100"], labels: { server: "s-1", role: "tenants" } }], "n8n.json": [] },
  rules: "groups: []\n",
  prometheusConfig: "global: {}\n",
  btwMetrics: "btw_metrics_generated_timestamp_seconds 1\n",
  textfileDir: "/var/lib/prometheus/node-exporter",
  credentials: { "s-2": "b".repeat(64), "s-1": "a".repeat(64) },
};

describe("planMonitoringSync", () => {
  const steps = planMonitoringSync(input);

  it("makes the directories, writes every file atomically with its content on stdin, then reloads Prometheus", () => {
    expect(steps.map((s) => s.argv)).toEqual([
      ["mkdir", "-p", "-m", "0755", "--", "/opt/btw/monitoring/prometheus/targets"],
      ["mkdir", "-p", "-m", "0755", "--", "/var/lib/prometheus/node-exporter"],
      ["mkdir", "-p", "-m", "0700", "--", "/opt/btw/monitoring/prometheus/secrets"],
      // each server's metrics token, 0600, before prometheus.yml names it
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/opt/btw/monitoring/prometheus/secrets/metrics-s-1.token", "0600"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/opt/btw/monitoring/prometheus/secrets/metrics-s-2.token", "0600"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/opt/btw/monitoring/prometheus/targets/node.json", "0644"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/opt/btw/monitoring/prometheus/targets/n8n.json", "0644"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", MONITORING_LAYOUT.rulesFile, "0644"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", MONITORING_LAYOUT.configFile, "0644"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/var/lib/prometheus/node-exporter/btw.prom", "0644"],
      // Prometheus runs as nobody and alone reads them
      ["chown", "-R", "65534:65534", "--", "/opt/btw/monitoring/prometheus/secrets"],
      ["sh", "-c", RELOAD_PROMETHEUS_SCRIPT, "sh", "btw-monitoring-prometheus"],
    ]);
    expect(steps[3]!.input).toBe("a".repeat(64));
    expect(steps[5]!.input).toBe(JSON.stringify(input.targets["node.json"], null, 2) + "\n");
    expect(steps[6]!.input).toBe("[]\n");
    expect(steps[9]!.input).toBe(input.btwMetrics);
    // nothing but paths and modes in argv
    for (const s of steps) expect(s.argv.join(" ")).not.toContain("btw_metrics_generated");
  });

  it("never shows a token: not in argv, not in what --dry-run prints", () => {
    for (const s of steps) {
      expect(s.argv.join(" ")).not.toMatch(/aaaa|bbbb/);
      expect(s.describe).not.toMatch(/aaaa|bbbb/);
    }
    expect(steps[3]!.describe).toBe("write /opt/btw/monitoring/prometheus/secrets/metrics-s-1.token (secret, 0600)");
  });

  it("refuses a textfile directory that is not absolute (the path checks of the file builders)", () => {
    expect(() => planMonitoringSync({ ...input, textfileDir: "relative/dir" })).toThrow();
  });
});
