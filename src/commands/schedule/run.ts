import type { Handler } from "../../cli/program.js";
import { isJobName, JOB_NAMES, scheduledJobs } from "../../core/schedule/jobs.js";
import { UsageError } from "../../errors.js";
import { planJob, runJob } from "../../ops/schedule/run.js";

// One run of a scheduled job, as the crontab starts it; exits with the job's exit code.
// --dry-run: what the run would do — its btw commands or, for maintenance, each server's —
// with no run recorded, nothing run, nobody notified.
const handler: Handler = async (ctx, [name], opts) => {
  const job = String(name);
  if (!isJobName(job)) throw new UsageError(`unknown job '${job}'`, { code: "unknown-job", hint: `one of: ${JOB_NAMES.join(", ")}` });
  const def = scheduledJobs(ctx.config.schedule).find((j) => j.name === job)!;
  if (opts.dryRun) {
    const plan = await planJob(ctx, def);
    return void ctx.out.result({ dryRun: true, ...plan }, () =>
      [
        `would run ${job} (${plan.description}), recorded in the job runs; a failure notified`,
        ...plan.btw.map((argv) => `  btw ${argv.join(" ")}`),
        ...plan.servers.flatMap((s) => [`  on ${s.server}:`, ...s.commands.map((c) => `    ${c.join(" ")}`)]),
        ...(plan.btw.length + plan.servers.length === 0 ? ["  nothing to do"] : []),
      ].join("\n"),
    );
  }
  const r = await runJob(ctx, def, { jitterSec: typeof opts.jitter === "number" ? opts.jitter : 0 });
  ctx.out.result(r, () =>
    [`${job}: exit ${r.exitCode}`, ...r.deliveries.map((d) => `  notified by ${d.channel}: ${d.ok ? "delivered" : `NOT delivered (${d.error})`}`)].join("\n"),
  );
  return r.exitCode;
};
export default handler;
