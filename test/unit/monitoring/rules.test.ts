// The alert rules rendered from config, run through the real promtool (Debian's `prometheus`,
// installed by test/support/promtool.ts when missing): `promtool check rules` on the rendered
// file, and `promtool test rules` on each alert's unit test in ./promtool/<Alert>.test.yml.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monitoringSchema } from "../../../src/config/monitoring-schema.js";
import { alertRuleGroups, renderAlertRules } from "../../../src/core/monitoring/rules.js";
import { ensurePromtool, promtool } from "../../support/promtool.js";

const TESTS_DIR = join(import.meta.dirname, "promtool");
const testFiles = readdirSync(TESTS_DIR).filter((f) => f.endsWith(".test.yml")).sort();
const defaults = monitoringSchema.parse({});
const alertNames = alertRuleGroups(defaults).flatMap((g) => g.rules.map((r) => r.alert));

let dir: string;
beforeAll(() => {
  ensurePromtool();
  dir = mkdtempSync(join(tmpdir(), "btw-rules-"));
  writeFileSync(join(dir, "rules.yml"), renderAlertRules(defaults));
  for (const f of testFiles) copyFileSync(join(TESTS_DIR, f), join(dir, f));
}, 900_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("alert rules (default config)", () => {
  it("pass promtool check rules", () => {
    const r = promtool(["check", "rules", "rules.yml"], dir);
    expect(r.output).toContain(`SUCCESS: ${alertNames.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it("cover what the issue asks for, each alert once, and every alert has its promtool test", () => {
    expect(new Set(alertNames).size).toBe(alertNames.length);
    expect(alertNames).toEqual(
      expect.arrayContaining([
        "TargetDown", "TenantNotReady", "DiskAlmostFull", "DiskFullSoon", "MemoryPressure", "OomKill",
        "ContainerRestartLoop", "BackupStale", "BackupVerifyFailing", "CertificateExpiring",
        "N8nExecutionFailureRate", "N8nQueueBacklog",
      ]),
    );
    expect(testFiles.map((f) => f.replace(/\.test\.yml$/, "")).sort()).toEqual([...alertNames].sort());
  });

  it.each(testFiles)("%s passes promtool test rules", (file) => {
    const r = promtool(["test", "rules", file], dir);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });
});

describe("alert rules from a non-default config", () => {
  it("carry the configured thresholds and for: durations (the lab's short ones) and still check", () => {
    const lab = monitoringSchema.parse({
      rules: {
        tenantNotReady: { for: "30s" },
        diskFree: { belowPercent: 20, for: "1m" },
        backupStale: { scheduleHours: 12, marginHours: 1 },
        executionFailures: { ratio: 0.1, window: "10m" },
      },
    });
    const rules = alertRuleGroups(lab).flatMap((g) => g.rules);
    const by = (name: string) => rules.find((r) => r.alert === name)!;
    expect(by("TenantNotReady").for).toBe("30s");
    expect(by("DiskAlmostFull").expr).toMatch(/ < 20$/);
    expect(by("DiskAlmostFull").for).toBe("1m");
    expect(by("BackupStale").expr).toBe("time() - btw_backup_last_success_timestamp_seconds > 46800");
    expect(by("N8nExecutionFailureRate").expr).toContain("[10m]");
    expect(by("N8nExecutionFailureRate").expr).toContain("> 0.1)");
    const d = mkdtempSync(join(tmpdir(), "btw-rules-lab-"));
    try {
      writeFileSync(join(d, "rules.yml"), renderAlertRules(lab));
      const r = promtool(["check", "rules", "rules.yml"], d);
      expect(r.status, r.output).toBe(0);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("refuses a threshold or duration Prometheus would not read", () => {
    expect(monitoringSchema.safeParse({ rules: { targetDown: { for: "2 minutes" } } }).success).toBe(false);
    expect(monitoringSchema.safeParse({ rules: { targetDown: { for: "" } } }).success).toBe(false);
    expect(monitoringSchema.safeParse({ rules: { diskFree: { belowPercent: 150 } } }).success).toBe(false);
    expect(monitoringSchema.safeParse({ rules: { nope: {} } }).success).toBe(false);
  });
});
