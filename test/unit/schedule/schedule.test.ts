// The schedule, pure: the crontab block (flock per job, jitter, quoting, idempotent
// replacement), next runs of cron expressions, the rotating verify sample, maintenance argv.
import { describe, expect, it } from "vitest";
import { scheduleSchema } from "../../../src/config/schedule-schema.js";
import { nextRun, parseCron } from "../../../src/core/schedule/cron.js";
import { blockMarkers, removeCrontabBlock, renderCrontabBlock, replaceCrontabBlock } from "../../../src/core/schedule/crontab.js";
import { pickVerifySample, scheduledJobs, worstExit } from "../../../src/core/schedule/jobs.js";
import { diskUsage, parseDf, pruneBuildCache, pruneImages, reclaimed } from "../../../src/core/schedule/maintenance.js";

const schedule = scheduleSchema.parse({ secretsRotate: { enabled: false } });
const input = { jobs: scheduledJobs(schedule), node: "/usr/bin/node", btw: "/opt/btw/bin/btw", configPath: "/etc/btw/btw.yml", home: "/var/lib/btw", jitterSec: 900 };

describe("the crontab block", () => {
  const block = renderCrontabBlock(input);

  it("runs each enabled job under its own flock, with the jitter, logging to the home; a disabled job is a comment", () => {
    expect(block.split("\n")).toContain(
      "15 2 * * * BTW_HOME=/var/lib/btw flock -n /var/lib/btw/schedule/backup-all.lock /usr/bin/node /opt/btw/bin/btw --config /etc/btw/btw.yml --non-interactive schedule run backup-all --jitter 900 >> /var/lib/btw/schedule/backup-all.log 2>&1",
    );
    expect(block).toContain("30 3 * * 0 BTW_HOME=/var/lib/btw flock -n /var/lib/btw/schedule/backup-verify.lock");
    expect(block).toContain("30 5 * * * BTW_HOME=");
    expect(block).toContain("0 4 * * * BTW_HOME=/var/lib/btw flock -n /var/lib/btw/schedule/maintenance.lock");
    expect(block).toContain("# secrets-rotate: disabled in btw.yml (schedule)");
    expect(renderCrontabBlock({ ...input, jobs: scheduledJobs(scheduleSchema.parse({})) })).toMatch(/^0 6 \* \* 1 BTW_HOME=\S+ flock -n \S+secrets-rotate.lock .* schedule run secrets-rotate /m);
    expect(block).not.toMatch(/^0 6 \* \* 1 /m);
    expect(block.startsWith("# BEGIN btw schedule /var/lib/btw\n")).toBe(true);
    expect(block.endsWith("# END btw schedule /var/lib/btw\n")).toBe(true);
  });

  it("quotes paths for the shell and escapes % for cron", () => {
    const b = renderCrontabBlock({ ...input, configPath: "/home/o p/100%/btw.yml" });
    expect(b).toContain("--config '/home/o p/100\\%/btw.yml'");
  });

  it("is put in place of the old block, never twice, and leaves the operator's lines alone", () => {
    const mine = "MAILTO=ops@example.com\n0 * * * * /usr/local/bin/other-job\n";
    const once = replaceCrontabBlock(mine, block, input.home);
    expect(once).toBe(mine + block);
    expect(replaceCrontabBlock(once, block, input.home)).toBe(once);
    const changed = renderCrontabBlock({ ...input, jitterSec: 60 });
    const twice = replaceCrontabBlock(once + "5 5 * * * after\n", changed, input.home);
    expect(twice).toBe(mine + changed + "5 5 * * * after\n");
    expect(twice.split(blockMarkers(input.home).begin)).toHaveLength(2);
    // another btw home's block is someone else's
    const other = renderCrontabBlock({ ...input, home: "/srv/btw2" });
    expect(replaceCrontabBlock(other, block, input.home)).toBe(other + block);
    expect(removeCrontabBlock(twice, input.home)).toBe(mine + "5 5 * * * after\n");
    expect(replaceCrontabBlock("", block, input.home)).toBe(block);
  });

  it("refuses a block that was opened and never closed", () => {
    expect(() => replaceCrontabBlock(`${blockMarkers(input.home).begin}\n0 * * * * x\n`, block, input.home)).toThrow(/without '# END/);
  });
});

describe("cron", () => {
  it("finds the next run in local time (TZ of the host)", () => {
    const after = new Date(2026, 11, 1, 2, 15, 30); // Tue 1 Dec 2026 02:15:30
    expect(nextRun("15 2 * * *", after)).toEqual(new Date(2026, 11, 2, 2, 15));
    expect(nextRun("30 3 * * 0", after)).toEqual(new Date(2026, 11, 6, 3, 30)); // Sunday
    expect(nextRun("*/20 * * * *", after)).toEqual(new Date(2026, 11, 1, 2, 20));
    expect(nextRun("0 0 1 1 *", after)).toEqual(new Date(2027, 0, 1, 0, 0));
    expect(nextRun("0 12 13 * 5", after)).toEqual(new Date(2026, 11, 4, 12, 0)); // day 13 OR Friday
  });

  it("refuses what cron would not read", () => {
    expect(() => parseCron("60 * * * *")).toThrow(/out of range/);
    expect(() => parseCron("* * *")).toThrow();
    expect(scheduleSchema.safeParse({ backupAll: { cron: "every night" } }).success).toBe(false);
  });
});

describe("jobs", () => {
  it("verifies never-verified tenants first, then the least recently verified; tenants without a backup wait", () => {
    const d = (s: string) => new Date(s);
    const facts = [
      { tenant: "a", lastBackupAt: d("2026-12-01"), lastVerifiedAt: d("2026-11-20") },
      { tenant: "b", lastBackupAt: d("2026-12-01"), lastVerifiedAt: null },
      { tenant: "c", lastBackupAt: d("2026-12-01"), lastVerifiedAt: d("2026-11-01") },
      { tenant: "d", lastBackupAt: null, lastVerifiedAt: null },
      { tenant: "e", lastBackupAt: d("2026-12-01"), lastVerifiedAt: d("2026-11-30") },
    ];
    expect(pickVerifySample(facts, 3)).toEqual(["b", "c", "a"]);
  });

  it("takes the worst exit code: any failure over a partial over ok", () => {
    expect(worstExit([0, 0])).toBe(0);
    expect(worstExit([0, 3])).toBe(3);
    expect(worstExit([3, 1, 0])).toBe(1);
    expect(worstExit([2])).toBe(1);
    expect(worstExit([])).toBe(0);
  });
});

describe("maintenance", () => {
  it("prunes images and build cache older than the configured age", () => {
    expect(pruneImages(168)).toEqual(["docker", "image", "prune", "--all", "--force", "--filter", "until=168h"]);
    expect(pruneBuildCache(24)).toEqual(["docker", "builder", "prune", "--all", "--force", "--filter", "until=24h"]);
    expect(diskUsage()).toEqual(["df", "-P", "-k", "/", "/var/lib/docker"]);
  });

  it("reads df and Docker's reclaimed space", () => {
    const df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 81000000 70000000 11000000 87% /\n/dev/sda1 81000000 70000000 11000000 87% /\n";
    expect(parseDf(df)).toEqual([{ mount: "/", usedPercent: 87, availKb: 11000000 }]);
    expect(reclaimed("Deleted Images:\n...\nTotal reclaimed space: 1.2GB\n")).toBe("1.2GB");
    expect(reclaimed("")).toBeNull();
  });
});

describe("schedule.env", () => {
  it("reads KEY=VALUE lines, quotes and export, skips comments, and refuses anything else", async () => {
    const { parseEnvFile } = await import("../../../src/core/schedule/env-file.js");
    expect(parseEnvFile("# secrets for cron\nBTW_WEBHOOK_URL=https://h/x?a=b#c\nexport BTW_SMTP_PASSWORD='p w'\nEMPTY=\nQ=\"x=y\"\n\n")).toEqual({
      BTW_WEBHOOK_URL: "https://h/x?a=b#c",
      BTW_SMTP_PASSWORD: "p w",
      EMPTY: "",
      Q: "x=y",
    });
    expect(() => parseEnvFile("not a line")).toThrow(/line 1/);
    // the error names the line, never its content (it may hold a secret)
    expect(() => parseEnvFile("A=1\nsecret-value-here")).toThrow(/^schedule.env: a line is not KEY=VALUE \(line 2\)$/);
  });
});
