import type { Handler } from "../../cli/program.js";
import { nextRun } from "../../core/schedule/cron.js";
import { scheduledJobs } from "../../core/schedule/jobs.js";

const outcome = (code: number | null, finished: Date | null) =>
  finished === null ? "running" : code === 0 ? "ok" : code === 3 ? "partial" : `failed (${code})`;

// Each job: its schedule, last run and outcome (from job_runs), whether the operator was
// told, and the next run.
const handler: Handler = async (ctx) => {
  const db = await ctx.db();
  const { lastRunPerJob } = await import("../../state/job-runs.js");
  const last = new Map((await lastRunPerJob(db)).map((r) => [r.job, r]));
  const now = new Date();
  const rows = scheduledJobs(ctx.config.schedule).map((j) => {
    const r = last.get(j.name);
    return {
      job: j.name,
      cron: j.cron,
      enabled: j.enabled,
      lastRun: r?.startedAt.toISOString() ?? null,
      seconds: r?.finishedAt ? Math.round((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000) : null,
      outcome: r ? outcome(r.exitCode, r.finishedAt) : null,
      exitCode: r?.exitCode ?? null,
      notified: r?.notified ?? [],
      nextRun: j.enabled ? nextRun(j.cron, now).toISOString() : null,
    };
  });
  ctx.out.result({ jobs: rows }, () =>
    ctx.out.table(rows, [
      { header: "job", value: (r) => r.job },
      { header: "schedule", value: (r) => (r.enabled ? r.cron : "disabled") },
      { header: "last run", value: (r) => r.lastRun ?? "never" },
      { header: "outcome", value: (r) => r.outcome ?? "" },
      { header: "took", value: (r) => (r.seconds === null ? "" : `${r.seconds} s`), align: "right" },
      { header: "notified", value: (r) => r.notified.map((d) => `${d.channel}:${d.ok ? "ok" : "FAILED"}`).join(" ") },
      { header: "next run", value: (r) => r.nextRun ?? "" },
    ]),
  );
};
export default handler;
