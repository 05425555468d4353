// The schedule through the real CLI: `schedule run backup-all` with the only server stopped
// exits 3, is recorded, rewrites btw's metrics, and its notice — exit code, failed tenant,
// report attached — reaches a FAKE webhook and a FAKE SMTP server; a notice that cannot be
// delivered is logged and shown by `btw status` (which then exits 3). `schedule install`
// against a FAKE crontab: the block is written once and replaced, never duplicated.

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { startFakeSmtp, type FakeSmtp } from "../../support/fake-smtp.js";
import { startFakeWebhook, type FakeWebhook } from "../../support/fake-webhook.js";

let home: BtwHome;
let smtp: FakeSmtp;
let hook: FakeWebhook;
const HOOK_SECRET = "hook-secret-0123456789";

beforeAll(async () => {
  smtp = await startFakeSmtp();
  hook = await startFakeWebhook();
  home = tempHome();
  const fragment = join(home.dir, "fragment.yml");
  writeFileSync(
    fragment,
    [
      "ssh: { connectTimeoutSec: 2 }",
      "notifications:",
      `  email: { host: 127.0.0.1, port: ${smtp.port}, security: none, from: btw@example.com, to: [ops@example.com] }`,
      "  webhook: {}",
      "",
    ].join("\n"),
  );
  const init = await home.run(["init", "--domain", "example.com", "--tls", "off", "--merge", fragment]);
  expect(init.code, init.stderr).toBe(0);
  // a server nothing answers on: every backup there fails
  const added = await home.run(["server", "add", "s1", "--host", "127.0.0.1", "--port", "1", "--no-verify"]);
  expect(added.code, added.stderr).toBe(0);
  await stateSql(home, `insert into tenants (slug, plan, server_id, status) select 'acme', 'starter', id, 'active' from servers where name = 's1'`);
  // cron's secrets come from $BTW_HOME/schedule.env, owner-only
  writeFileSync(join(home.dir, "schedule.env"), `BTW_WEBHOOK_URL=${hook.url}/hook/${HOOK_SECRET}\n`, { mode: 0o600 });
}, 180_000);
afterAll(async () => {
  await Promise.all([smtp?.close(), hook?.close()]);
  home?.cleanup();
});

describe("schedule run", () => {
  let run: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    run = await home.run(["schedule", "run", "backup-all", "--json"]);
  }, 180_000);

  it("exits with the job's code (3: a tenant not backed up) and notifies the webhook with the exit code and the failed tenant", () => {
    expect(run.code, run.stderr).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({ job: "backup-all", exitCode: 3, deliveries: [{ channel: "email", ok: true }, { channel: "webhook", ok: true }] });
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.path).toBe(`/hook/${HOOK_SECRET}`);
    expect(hook.received[0]!.json).toMatchObject({ source: "btw", event: "job.partial", job: "backup-all", exitCode: 3, failedTenants: ["acme"] });
  });

  it("sends the email over SMTP with the job's report attached", () => {
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.to).toEqual(["ops@example.com"]);
    expect(mail.data).toMatch(/Subject: \[btw\] backup-all partially failed \(exit 3\) on /);
    const attachment = mail.data.split(/--btw-[0-9a-f]+/).find((p) => p.includes("Content-Disposition: attachment"))!;
    const report = Buffer.from(attachment.split("\r\n\r\n")[1]!.replace(/\r\n/g, ""), "base64").toString("utf8");
    expect(report).toContain("$ btw backup all --json");
    expect(report).toContain('"tenant": "acme"');
  });

  it("records the run, shown by schedule status with its outcome and next run", async () => {
    const st = await home.run(["schedule", "status", "--json"]);
    expect(st.code, st.stderr).toBe(0);
    const jobs = (JSON.parse(st.stdout) as { jobs: Array<Record<string, unknown>> }).jobs;
    expect(jobs.map((j) => j.job)).toEqual(["backup-all", "backup-verify", "backup-prune", "secrets-rotate", "content-prune", "usage-collect", "maintenance"]);
    expect(jobs[0]).toMatchObject({ job: "backup-all", outcome: "partial", exitCode: 3, notified: [{ channel: "email", ok: true }, { channel: "webhook", ok: true }] });
    expect(new Date(jobs[0]!.nextRun as string).getTime()).toBeGreaterThan(Date.now());
    expect(jobs[1]).toMatchObject({ job: "backup-verify", lastRun: null, outcome: null });
    expect(jobs[3]).toMatchObject({ job: "secrets-rotate", enabled: true, lastRun: null });
  });

  it("rewrites btw's metrics: the job's exit code, the tenant never backed up (0)", () => {
    const prom = readFileSync(join(home.dir, "monitoring", "btw.prom"), "utf8");
    expect(prom).toContain('btw_schedule_job_last_exit_code{job_name="backup-all"} 3');
    expect(prom).toContain('btw_backup_last_success_timestamp_seconds{tenant="acme"} 0');
  });

  it("keeps the secret URL out of every output and of the stored report", async () => {
    const rows = (await stateSql(home, "select report, notified::text as n from job_runs")) as Array<{ report: string; n: string }>;
    for (const text of [run.stdout, run.stderr, ...rows.map((r) => r.report + r.n)]) expect(text).not.toContain(HOOK_SECRET);
  });

  it("logs an undeliverable notice and `btw status` shows it and exits 3", async () => {
    await smtp.close();
    const again = await home.run(["schedule", "run", "backup-all"]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/notification by email not delivered: .*ECONNREFUSED/);
    const st = await home.run(["status", "--json"]);
    expect(st.code, st.stderr).toBe(3);
    const doc = JSON.parse(st.stdout) as { healthy: boolean; failedJobs: unknown[]; undeliveredNotifications: Array<{ job: string; failed: Array<{ channel: string }> }> };
    expect(doc.healthy).toBe(false);
    expect(doc.failedJobs).toMatchObject([{ job: "backup-all", exitCode: 3 }]);
    expect(doc.undeliveredNotifications[0]).toMatchObject({ job: "backup-all", failed: [{ channel: "email" }] });
    const text = await home.run(["status"]);
    expect(text.stdout).toMatch(/NOT DELIVERED: the notice of backup-all .* by email/);
  }, 120_000);

  it("refuses a schedule.env others can read", async () => {
    chmodSync(join(home.dir, "schedule.env"), 0o644);
    try {
      const r = await home.run(["schedule", "run", "backup-prune"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/schedule.env is readable by others; it holds secrets/);
      expect(r.stderr).toMatch(/hint: chmod 600 /);
    } finally {
      chmodSync(join(home.dir, "schedule.env"), 0o600);
    }
  });
});

describe("schedule install", () => {
  it("writes the block into the crontab once, keeps the operator's lines, and replaces it on the next install", async () => {
    // FAKE crontab: `-l` prints the stored table (or fails like cron's when there is none), `-` stores stdin
    const bin = join(home.dir, "fake-bin");
    const table = join(home.dir, "fake-crontab.txt");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "crontab"),
      `#!/bin/sh\n# a FAKE crontab for tests\nif [ "$1" = "-l" ]; then [ -f "${table}" ] && exec cat "${table}"; echo "no crontab for $(id -un)" >&2; exit 1; fi\nif [ "$1" = "-" ]; then cat > "${table}"; exit 0; fi\nexit 2\n`,
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}:${home.env.PATH}` };
    const first = await home.run(["schedule", "install"], { env });
    expect(first.code, first.stderr).toBe(0);
    const once = readFileSync(table, "utf8");
    expect(once).toContain(`# BEGIN btw schedule ${home.dir}`);
    expect(once).toMatch(/^15 2 \* \* \* BTW_HOME=\S+ flock -n \S+\/schedule\/backup-all\.lock \S+ \S+\/bin\/btw --config \S+ --non-interactive schedule run backup-all --jitter 900 >> /m);
    writeFileSync(table, "MAILTO=ops@example.com\n" + once + "0 * * * * /usr/local/bin/mine\n");
    const same = await home.run(["schedule", "install", "--json"], { env });
    expect(JSON.parse(same.stdout)).toMatchObject({ changed: false });
    const dry = await home.run(["schedule", "install", "--dry-run"], { env });
    expect(dry.stdout).toContain("would put this block in the crontab");
    const after = readFileSync(table, "utf8");
    expect(after.split("# BEGIN btw schedule")).toHaveLength(2);
    expect(after.startsWith("MAILTO=ops@example.com\n")).toBe(true);
    expect(after.endsWith("0 * * * * /usr/local/bin/mine\n")).toBe(true);
    expect(existsSync(join(home.dir, "schedule"))).toBe(true);
  });
});
