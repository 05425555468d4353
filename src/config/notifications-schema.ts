import { z } from "zod";

// The `notifications` section: where btw and Alertmanager tell the operator. Secrets are
// never values in this file — only the NAMES of environment variables that hold them (a
// Slack webhook URL is a secret: whoever has it can post). btw reads them when it sends;
// `monitoring deploy` writes them to 0600 files Alertmanager reads (`*_file` settings).

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name like BTW_SMTP_PASSWORD");

const email = z
  .object({
    host: z.string().min(1).describe("SMTP server"),
    port: z.number().int().min(1).max(65535).default(587),
    security: z.enum(["starttls", "tls", "none"]).default("starttls").describe("none only for a relay on a private network or a test server"),
    user: z.string().optional(),
    passwordEnv: envName.default("BTW_SMTP_PASSWORD").describe("the variable holding the SMTP password (read only when user is set)"),
    from: z.string().email(),
    to: z.array(z.string().email()).min(1),
  })
  .strict();

const slack = z
  .object({
    webhookUrlEnv: envName.default("BTW_SLACK_WEBHOOK_URL").describe("the variable holding the Slack incoming-webhook URL"),
    channel: z.string().optional(),
  })
  .strict();

const webhook = z
  .object({
    urlEnv: envName.default("BTW_WEBHOOK_URL").describe("the variable holding the URL (it may carry a token)"),
    bearerTokenEnv: envName.optional().describe("a variable holding a bearer token sent as Authorization"),
  })
  .strict();

export const notificationsSchema = z
  .object({
    email: email.optional(),
    slack: slack.optional().describe("`slack: {}` enables it with the default variable name"),
    webhook: webhook.optional().describe("`webhook: {}` enables it with the default variable name"),
    timeoutSec: z.number().int().min(1).max(120).default(15).describe("per delivery"),
  })
  .strict();

export type NotificationsConfig = z.infer<typeof notificationsSchema>;
export type EmailChannel = z.infer<typeof email>;
