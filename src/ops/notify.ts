// Telling the operator: each configured channel of `notifications` gets the notice; every
// delivery's outcome comes back (never thrown) so the caller can record and show failures.
// Secrets (SMTP password, webhook URLs, tokens) come from the environment at send time and
// are scrubbed from any error text.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { NotificationsConfig } from "../config/notifications-schema.js";
import { emailMessage, slackPayload, webhookPayload, type Notice } from "../core/notify/message.js";
import type { Delivery } from "../state/job-runs.js";

export interface NotifyDeps {
  env: NodeJS.ProcessEnv;
  /** extra CA for SMTP over TLS (tests) */
  smtpCa?: string;
}

export function channelsOf(n: NotificationsConfig): string[] {
  return [n.email ? "email" : "", n.slack ? "slack" : "", n.webhook ? "webhook" : ""].filter(Boolean);
}

function scrub(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let m = message;
  for (const s of secrets) if (s && s.length >= 4) m = m.split(s).join("[REDACTED]");
  return m;
}

async function deliver(channel: string, secrets: Array<string | undefined>, send: () => Promise<void>): Promise<Delivery> {
  try {
    await send();
    return { channel, ok: true };
  } catch (e) {
    return { channel, ok: false, error: scrub((e as Error).message, secrets) };
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

export async function notify(n: NotificationsConfig, notice: Notice, deps: NotifyDeps): Promise<Delivery[]> {
  const timeoutMs = n.timeoutSec * 1000;
  const out: Array<Promise<Delivery>> = [];
  if (n.email) {
    const e = n.email;
    const password = e.user ? deps.env[e.passwordEnv] : undefined;
    out.push(
      deliver("email", [password], async () => {
        if (e.user && !password) throw new Error(`${e.passwordEnv} is not set`);
        const { sendMail } = await import("../remote/smtp.js");
        const token = randomBytes(12).toString("hex");
        const data = emailMessage(notice, { from: e.from, to: e.to, token, domain: e.from.split("@")[1] ?? "btw" });
        await sendMail(
          { host: e.host, port: e.port, security: e.security, ...(e.user ? { user: e.user, password } : {}), clientName: hostname() || "btw", timeoutMs, ...(deps.smtpCa ? { ca: deps.smtpCa } : {}) },
          { from: e.from, to: e.to, data },
        );
      }),
    );
  }
  if (n.slack) {
    const s = n.slack;
    const url = deps.env[s.webhookUrlEnv];
    out.push(
      deliver("slack", [url], async () => {
        const { postJson } = await import("../remote/webhook.js");
        await postJson(required(deps.env, s.webhookUrlEnv), slackPayload(notice, s.channel), { timeoutMs });
      }),
    );
  }
  if (n.webhook) {
    const w = n.webhook;
    const url = deps.env[w.urlEnv];
    const token = w.bearerTokenEnv ? deps.env[w.bearerTokenEnv] : undefined;
    out.push(
      deliver("webhook", [url, token], async () => {
        const { postJson } = await import("../remote/webhook.js");
        if (w.bearerTokenEnv && !token) throw new Error(`${w.bearerTokenEnv} is not set`);
        await postJson(required(deps.env, w.urlEnv), webhookPayload(notice), { timeoutMs, ...(token ? { bearerToken: token } : {}) });
      }),
    );
  }
  return Promise.all(out);
}
