// alertmanager.yml from `notifications`, checked by the real amtool (Debian's 0.25).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationsSchema } from "../../../src/config/notifications-schema.js";
import { alertmanagerSecretSources, renderAlertmanagerConfig } from "../../../src/core/monitoring/alertmanager-config.js";
import { ensureAmtool } from "../../support/amtool.js";

const all = notificationsSchema.parse({
  email: { host: "smtp.example.com", port: 587, user: "btw", from: "btw@example.com", to: ["ops@example.com", "oncall@example.com"] },
  slack: { channel: "#ops" },
  webhook: { bearerTokenEnv: "HOOK_TOKEN" },
});
let dir: string;
beforeAll(() => {
  ensureAmtool();
  dir = mkdtempSync(join(tmpdir(), "btw-am-"));
}, 900_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function amtoolCheck(yml: string): { status: number | null; output: string } {
  const f = join(dir, `am-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(f, yml);
  const r = spawnSync(ensureAmtool(), ["check-config", f], { encoding: "utf8" });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe("renderAlertmanagerConfig", () => {
  it("passes amtool check-config with every channel (webhook URL inline for 0.25) and with none", () => {
    const r = amtoolCheck(renderAlertmanagerConfig({ notifications: all, secretsDir: "/etc/alertmanager/secrets", webhookUrl: { inline: "http://10.0.1.5:9000/hook" } }));
    expect(r.status, r.output).toBe(0);
    const none = amtoolCheck(renderAlertmanagerConfig({ notifications: notificationsSchema.parse({}), secretsDir: "/s", webhookUrl: { file: true } }));
    expect(none.status, none.output).toBe(0);
  });

  it("takes its grouping timings from monitoring.alertmanager (the lab's are seconds)", () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cfg = parse(renderAlertmanagerConfig({ notifications: all, secretsDir: "/s", webhookUrl: { file: true }, timing: { groupWait: "5s", groupInterval: "10s", repeatInterval: "1h" } })) as any;
    expect(cfg.route).toMatchObject({ group_wait: "5s", group_interval: "10s", repeat_interval: "1h" });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const byDefault = parse(renderAlertmanagerConfig({ notifications: all, secretsDir: "/s", webhookUrl: { file: true } })) as any;
    expect(byDefault.route).toMatchObject({ group_wait: "30s", group_interval: "5m", repeat_interval: "4h" });
  });

  it("reads every secret from a file, never holds one", () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cfg = parse(renderAlertmanagerConfig({ notifications: all, secretsDir: "/etc/alertmanager/secrets", webhookUrl: { file: true } })) as any;
    const r = cfg.receivers[0];
    expect(r.email_configs[0]).toEqual({
      to: "ops@example.com, oncall@example.com",
      from: "btw@example.com",
      smarthost: "smtp.example.com:587",
      require_tls: true,
      auth_username: "btw",
      auth_password_file: "/etc/alertmanager/secrets/smtp-password",
      send_resolved: true,
    });
    expect(r.slack_configs[0]).toMatchObject({ api_url_file: "/etc/alertmanager/secrets/slack-webhook-url", channel: "#ops", send_resolved: true });
    expect(r.webhook_configs[0]).toEqual({
      url_file: "/etc/alertmanager/secrets/webhook-url",
      http_config: { authorization: { credentials_file: "/etc/alertmanager/secrets/webhook-token" } },
      send_resolved: true,
    });
    expect(cfg.route.group_by).toEqual(["alertname", "tenant", "server"]);
  });

  it("lists the secret files deploy must write and the variables they come from", () => {
    expect(alertmanagerSecretSources(all)).toEqual([
      { file: "smtp-password", env: "BTW_SMTP_PASSWORD" },
      { file: "slack-webhook-url", env: "BTW_SLACK_WEBHOOK_URL" },
      { file: "webhook-url", env: "BTW_WEBHOOK_URL" },
      { file: "webhook-token", env: "HOOK_TOKEN" },
    ]);
  });
});
