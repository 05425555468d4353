// `btw schedule run <job>`: one run of a scheduled job, as cron starts it. The run is a row
// in job_runs (started, finished with btw's exit code and the report); btw's metrics are
// rewritten; a run that fails or partly fails is sent to every notification channel with the
// report attached, and a delivery that fails is recorded (shown by `btw status`) and logged.

import { existsSync, readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { jobNotice } from "../../core/notify/message.js";
import { parseEnvFile } from "../../core/schedule/env-file.js";
import { pickVerifySample, worstExit, type JobDef } from "../../core/schedule/jobs.js";
import { ConfigError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import type { Delivery } from "../../state/job-runs.js";
import { channelsOf, notify } from "../notify.js";
import { publishFacts } from "../monitoring/publish.js";

/** Reports are kept whole up to this size; a longer one keeps its head and tail. */
const REPORT_MAX = 256 * 1024;
const CHILD_TIMEOUT_MS = 12 * 3600_000;

export interface JobRunResult {
  job: string;
  runId: number;
  exitCode: number;
  deliveries: Delivery[];
}

/** The environment of a scheduled run: the process's, plus $BTW_HOME/schedule.env (owner-only). */
export function scheduleEnv(home: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = join(home, "schedule.env");
  if (!existsSync(file)) return env;
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new ConfigError(`${file} is readable by others; it holds secrets`, { code: "schedule-env-mode", hint: `chmod 600 ${file}` });
  }
  return { ...parseEnvFile(readFileSync(file, "utf8")), ...env };
}

function clip(report: string): string {
  if (report.length <= REPORT_MAX) return report;
  const half = REPORT_MAX / 2;
  return `${report.slice(0, half)}\n… [${report.length - REPORT_MAX} characters left out] …\n${report.slice(-half)}`;
}

async function runBtw(ctx: Ctx, env: NodeJS.ProcessEnv, argv: readonly string[]): Promise<{ code: number; report: string }> {
  const { runLocal } = await import("../../remote/local-process.js");
  const source = ctx.configSource();
  const args = [join(packageRoot(), "bin", "btw"), ...(source ? ["--config", source.path] : []), "--non-interactive", "--no-color", ...argv];
  ctx.out.info(`· btw ${argv.join(" ")}`);
  const r = await runLocal(process.execPath, args, { env: { ...env, NO_COLOR: "1" }, timeoutMs: CHILD_TIMEOUT_MS });
  return { code: r.code, report: `$ btw ${argv.join(" ")}\n${r.stderr}${r.stdout}` };
}

/** The verify job's btw commands: one per tenant of this run's sample. */
async function verifySampleCommands(ctx: Ctx): Promise<string[][]> {
  const { tenantFacts } = await import("../../state/monitoring-facts.js");
  const tenants = pickVerifySample(await tenantFacts(await ctx.db()), ctx.config.schedule.backupVerify.sample);
  return tenants.map((t) => ["backup", "verify", "--tenant", t, "--latest", "--json"]);
}

async function verifySample(ctx: Ctx, env: NodeJS.ProcessEnv): Promise<{ code: number; report: string }> {
  const commands = await verifySampleCommands(ctx);
  if (commands.length === 0) return { code: 0, report: "no tenant has a completed backup to verify\n" };
  const runs = [];
  for (const argv of commands) runs.push(await runBtw(ctx, env, argv));
  return { code: worstExit(runs.map((r) => r.code)), report: runs.map((r) => r.report).join("\n") };
}

export interface JobPlan {
  job: string;
  description: string;
  /** the btw commands it would run, in order */
  btw: string[][];
  /** maintenance: the commands it would run on each server */
  servers: Array<{ server: string; commands: string[][] }>;
}

/** What one run would do (`schedule run --dry-run`): from the state and the config alone. */
export async function planJob(ctx: Ctx, job: JobDef): Promise<JobPlan> {
  const base = { job: job.name, description: job.description, btw: [] as string[][], servers: [] as JobPlan["servers"] };
  if (job.argv) return { ...base, btw: [job.argv] };
  if (job.name === "backup-verify") return { ...base, btw: await verifySampleCommands(ctx) };
  const { maintenanceCommands } = await import("./maintenance.js");
  return { ...base, servers: await maintenanceCommands(ctx) };
}

async function execute(ctx: Ctx, job: JobDef, env: NodeJS.ProcessEnv): Promise<{ code: number; report: string }> {
  if (job.argv) return runBtw(ctx, env, job.argv);
  if (job.name === "backup-verify") return verifySample(ctx, env);
  const { maintainServers } = await import("./maintenance.js");
  return maintainServers(ctx);
}

export async function runJob(ctx: Ctx, job: JobDef, opts: { jitterSec: number }): Promise<JobRunResult> {
  const env = scheduleEnv(ctx.home, ctx.env);
  if (opts.jitterSec > 0) {
    const ms = Math.floor(Math.random() * opts.jitterSec * 1000);
    ctx.out.verbose(`jitter: waiting ${Math.round(ms / 1000)} s`);
    await new Promise((r) => setTimeout(r, ms));
  }
  const db = await ctx.db();
  const { startJobRun, finishJobRun, recordDeliveries } = await import("../../state/job-runs.js");
  const run = await startJobRun(db, job.name);
  let code: number;
  let report: string;
  try {
    ({ code, report } = await execute(ctx, job, env));
  } catch (e) {
    code = 1;
    report = `the job could not run: ${(e as Error).message}\n`;
  }
  report = clip(report);
  await finishJobRun(db, run.id, code, report);
  await publishFacts(ctx);
  let deliveries: Delivery[] = [];
  if (code !== 0 && channelsOf(ctx.config.notifications).length > 0) {
    const notice = jobNotice({ job: job.name, exitCode: code, startedAt: run.startedAt, finishedAt: new Date(), host: hostname(), report });
    deliveries = await notify(ctx.config.notifications, notice, { env });
    await recordDeliveries(db, run.id, deliveries);
    for (const d of deliveries.filter((x) => !x.ok)) ctx.out.warn(`notification by ${d.channel} not delivered: ${d.error}`);
  } else if (code !== 0) {
    ctx.out.warn("no notification channel is configured (notifications in btw.yml): nobody was told");
  }
  await ctx.audit("schedule.run", job.name, { runId: run.id, exitCode: code, notified: deliveries });
  return { job: job.name, runId: run.id, exitCode: code, deliveries };
}
