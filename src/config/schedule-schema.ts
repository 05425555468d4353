import { z } from "zod";

// The `schedule` section: when `btw schedule install`'s crontab runs each job (the operator
// host's local time), and the random delay each run waits first so a fleet of operators (or
// of jobs) does not hit the same minute.

const cronField = "(\\*|\\d+(-\\d+)?)(\\/\\d+)?";
const cronExpr = z
  .string()
  .regex(new RegExp(`^${cronField}(,${cronField})*( ${cronField}(,${cronField})*){4}$`), "must be a 5-field cron expression like '15 2 * * *'");

const job = (cron: string, enabled = true) =>
  z.object({ cron: cronExpr.default(cron), enabled: z.boolean().default(enabled) }).strict().prefault({});

export const scheduleSchema = z
  .object({
    jitterSec: z.number().int().min(0).max(3600).default(900).describe("each run first sleeps a random 0..jitterSec seconds"),
    backupAll: job("15 2 * * *"),
    backupPrune: job("30 5 * * *"),
    backupVerify: z
      .object({
        cron: cronExpr.default("30 3 * * 0"),
        enabled: z.boolean().default(true),
        sample: z.number().int().min(1).default(3).describe("tenants verified per run, least recently verified first: every tenant in turn"),
      })
      .strict()
      .prefault({}),
    usageCollect: job("5 */6 * * *").describe("runs `btw usage collect` (the month's usage → the usage table; quota notices at 80 % and 100 %)"),
    contentPrune: job("45 4 * * *").describe("runs `btw tenant content prune --all` (keywords and clusters older than each plan's contentRetentionDays)"),
    secretsRotate: job("0 6 * * 1").describe("runs `btw tenant secrets rotate --due` (tenants whose secrets are older than secrets.rotationDays)"),
    maintenance: z
      .object({
        cron: cronExpr.default("0 4 * * *"),
        enabled: z.boolean().default(true),
        pruneOlderThanHours: z.number().int().min(1).default(168).describe("unused images and build cache older than this are removed"),
        diskWarnPercent: z.number().min(1).max(99).default(85).describe("a server whose root disk is fuller than this makes the run partial"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ScheduleConfig = z.infer<typeof scheduleSchema>;
