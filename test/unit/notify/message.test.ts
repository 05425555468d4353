// The notice of a failed scheduled job, per channel.
import { describe, expect, it } from "vitest";
import { emailMessage, failedTenantsOf, jobNotice, slackPayload, webhookPayload } from "../../../src/core/notify/message.js";
import { smtpData } from "../../../src/remote/smtp.js";

const base = { job: "backup-all", startedAt: new Date("2026-12-01T02:00:00Z"), finishedAt: new Date("2026-12-01T02:00:42Z"), host: "ops-1" };

describe("jobNotice", () => {
  it("says partial for exit 3 and failed otherwise, with the duration and the failed tenants from the --json report", () => {
    const n = jobNotice({ ...base, exitCode: 3, report: '{"results":[{"ok":false,"tenant":"beta"},{"ok":false,"skipped":true,"tenant":"c"},{"ok":true,"tenant":"a"}]}\nlog line } with a brace' });
    expect(n.event).toBe("job.partial");
    expect(n.subject).toBe("[btw] backup-all partially failed (exit 3) on ops-1");
    expect(n.text).toContain("exit code 3, after 42 s");
    expect(n.failedTenants).toEqual(["beta"]);
    expect(jobNotice({ ...base, exitCode: 1, report: "error: state unreachable" })).toMatchObject({ event: "job.failed", failedTenants: [] });
  });

  it("finds no tenants in a report that is not JSON", () => {
    expect(failedTenantsOf("plain text")).toEqual([]);
    expect(failedTenantsOf("{ not json }")).toEqual([]);
  });
});

describe("channel payloads", () => {
  const n = jobNotice({ ...base, exitCode: 3, report: "x".repeat(5000) });

  it("Slack gets the subject, the text and the report's tail only", () => {
    const p = slackPayload(n, "#ops") as { channel: string; text: string };
    expect(p.channel).toBe("#ops");
    expect(p.text.startsWith("*[btw] backup-all partially failed (exit 3) on ops-1*\n")).toBe(true);
    expect(p.text.length).toBeLessThan(3000);
  });

  it("the webhook gets every fact as a field and the whole report", () => {
    expect(webhookPayload(n)).toMatchObject({ source: "btw", event: "job.partial", job: "backup-all", exitCode: 3, at: "2026-12-01T02:00:42.000Z" });
    expect((webhookPayload(n).report as { content: string }).content).toHaveLength(5000);
  });

  it("the email is multipart with CRLF lines no longer than SMTP allows, and a dot line is stuffed on the wire", () => {
    const m = emailMessage(n, { from: "btw@example.com", to: ["a@example.com"], token: "abc123", domain: "example.com" });
    expect(m).toContain('Content-Type: multipart/mixed; boundary="btw-abc123"\r\n');
    expect(m).toContain("Message-ID: <abc123@example.com>\r\n");
    for (const line of m.split("\r\n")) expect(line.length).toBeLessThanOrEqual(998);
    expect(m.endsWith("--btw-abc123--\r\n")).toBe(true);
    expect(smtpData("a\n.b\r\n")).toBe("a\r\n..b\r\n.\r\n");
  });
});
