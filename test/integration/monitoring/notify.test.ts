// btw telling the operator, against local FAKES speaking the real protocols: an SMTP server
// (STARTTLS with a throw-away certificate, AUTH PLAIN) and HTTP receivers playing Slack and
// a generic webhook. A channel that cannot be reached comes back as a failed delivery whose
// error holds no secret.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationsSchema } from "../../../src/config/notifications-schema.js";
import { jobNotice } from "../../../src/core/notify/message.js";
import { notify } from "../../../src/ops/notify.js";
import { startFakeSmtp, type FakeSmtp } from "../../support/fake-smtp.js";
import { startFakeWebhook, type FakeWebhook } from "../../support/fake-webhook.js";

const report = [
  '{"ok":false,"total":3,"results":[{"ok":true,"tenant":"acme"},{"ok":false,"tenant":"beta","error":"ssh: connect refused"},{"ok":false,"skipped":true,"tenant":"gamma"}]}',
  "✗ beta (s-2): ssh: connect refused",
  ".a line starting with a dot",
].join("\n");
const notice = jobNotice({ job: "backup-all", exitCode: 3, startedAt: new Date("2026-12-01T02:00:00Z"), finishedAt: new Date("2026-12-01T02:03:00Z"), host: "ops-1", report });

let dir: string;
let cert: { key: string; cert: string };
let smtp: FakeSmtp;
let slack: FakeWebhook;
let hook: FakeWebhook;
const SMTP_PASSWORD = "s3cret-smtp-pass";
const env = () => ({
  BTW_SMTP_PASSWORD: SMTP_PASSWORD,
  BTW_SLACK_WEBHOOK_URL: `${slack.url}/services/T000/B000/slack-secret-token`,
  BTW_WEBHOOK_URL: `${hook.url}/hooks/btw?token=hook-secret-token`,
  HOOK_TOKEN: "bearer-secret-token",
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "btw-notify-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  cert = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  smtp = await startFakeSmtp({ tls: cert, password: SMTP_PASSWORD });
  slack = await startFakeWebhook();
  hook = await startFakeWebhook();
});
afterAll(async () => {
  await Promise.all([smtp?.close(), slack?.close(), hook?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const config = () =>
  notificationsSchema.parse({
    email: { host: "127.0.0.1", port: smtp.port, security: "starttls", user: "btw", from: "btw@example.com", to: ["ops@example.com", "oncall@example.com"] },
    slack: { channel: "#ops" },
    webhook: { bearerTokenEnv: "HOOK_TOKEN" },
    timeoutSec: 5,
  });

describe("notify", () => {
  it("delivers on every channel: an email over STARTTLS with the report attached, Slack, the webhook with exit code and failed tenants", async () => {
    const deliveries = await notify(config(), notice, { env: env(), smtpCa: cert.cert });
    expect(deliveries).toEqual([{ channel: "email", ok: true }, { channel: "slack", ok: true }, { channel: "webhook", ok: true }]);

    const mail = smtp.received.at(-1)!;
    expect(mail).toMatchObject({ from: "btw@example.com", to: ["ops@example.com", "oncall@example.com"], user: "btw", tls: true });
    expect(mail.data).toContain("Subject: [btw] backup-all partially failed (exit 3) on ops-1");
    const parts = mail.data.split(/--btw-[0-9a-f]+/);
    const attachment = parts.find((p) => p.includes("Content-Disposition: attachment"))!;
    expect(attachment).toContain('filename="backup-all-20261201T020000000Z.txt"');
    const b64 = attachment.split("\r\n\r\n")[1]!.replace(/\r\n/g, "");
    expect(Buffer.from(b64, "base64").toString("utf8")).toBe(report);

    const s = slack.received.at(-1)!;
    expect(s.path).toBe("/services/T000/B000/slack-secret-token");
    expect(s.json).toMatchObject({ channel: "#ops" });
    expect((s.json as { text: string }).text).toContain("Failed tenants: beta.");

    const h = hook.received.at(-1)!;
    expect(h.headers.authorization).toBe("Bearer bearer-secret-token");
    expect(h.json).toMatchObject({ source: "btw", event: "job.partial", job: "backup-all", exitCode: 3, failedTenants: ["beta"], report: { content: report } });
  });

  it("returns a failed delivery, without the secret, for a channel it cannot reach, and still delivers the others", async () => {
    slack.respondWith(500);
    try {
      const deadPort = smtp.port === 1 ? 2 : 1; // nothing listens on port 1
      const cfg = config();
      cfg.email!.port = deadPort;
      const e = env();
      const deliveries = await notify(cfg, notice, { env: e, smtpCa: cert.cert });
      expect(deliveries[0]).toMatchObject({ channel: "email", ok: false });
      expect(deliveries[0]!.error).toMatch(/ECONNREFUSED/);
      expect(deliveries[1]).toEqual({ channel: "slack", ok: false, error: "POST answered HTTP 500" });
      expect(deliveries[2]).toEqual({ channel: "webhook", ok: true });
      expect(JSON.stringify(deliveries)).not.toMatch(/secret/);
    } finally {
      slack.respondWith(200);
    }
  });

  it("fails a delivery whose secret is missing from the environment, naming the variable, and a wrong SMTP password", async () => {
    const e: Record<string, string> = { ...env(), BTW_SMTP_PASSWORD: "wrong-password" };
    delete e.BTW_SLACK_WEBHOOK_URL;
    const deliveries = await notify(config(), notice, { env: e, smtpCa: cert.cert });
    expect(deliveries[0]).toMatchObject({ channel: "email", ok: false });
    expect(deliveries[0]!.error).toMatch(/^SMTP AUTH: the server answered 535/);
    expect(deliveries[0]!.error).not.toContain("wrong-password");
    expect(deliveries[1]).toEqual({ channel: "slack", ok: false, error: "BTW_SLACK_WEBHOOK_URL is not set" });
  });

  it("refuses an untrusted certificate (no silent downgrade)", async () => {
    const deliveries = await notify({ ...config(), slack: undefined, webhook: undefined }, notice, { env: env() });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.ok).toBe(false);
    expect(smtp.received.length).toBe(1);
  });
});

describe("the notifications config", () => {
  it("takes no secret values, only the names of the variables that hold them", () => {
    expect(notificationsSchema.safeParse({ slack: { webhookUrl: "https://hooks.slack.com/x" } }).success).toBe(false);
    expect(notificationsSchema.safeParse({ email: { host: "h", from: "a@b.c", to: ["d@e.f"], password: "x" } }).success).toBe(false);
    expect(notificationsSchema.safeParse({ webhook: { urlEnv: "not a name" } }).success).toBe(false);
  });
});
