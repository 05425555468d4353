import type { Handler } from "../../cli/program.js";
import { describeCreate, executeCreate, planCreate } from "../../ops/tenant/create.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const plan = await planCreate(ctx, db, {
    slug: String(name),
    plan: (opts.plan as string | undefined) ?? ctx.config.defaults.plan,
    ...(typeof opts.server === "string" ? { server: opts.server } : {}),
    ...(typeof opts.timezone === "string" ? { timezone: opts.timezone } : {}),
  });
  if (opts.dryRun) {
    const d = describeCreate(ctx, plan);
    ctx.out.result({ dryRun: true, plan: d }, () =>
      [
        `would create tenant ${d.tenant} (${d.plan}) on ${d.server}, subnet ${d.subnet}, ${d.timezone} → ${d.url}`,
        ...(d.resume ? [`resuming an interrupted create (${d.resume.status}${d.resume.failedStep ? ` at ${d.resume.failedStep}` : ""})`] : []),
        "files:",
        ...d.files.map((f) => `  ${f.path} (${f.mode}) ← ${f.from}`),
        "remote commands:",
        ...d.commands.map((c) => `  ${c.join(" ")}`),
        "state:",
        ...d.state.map((s) => `  ${s}`),
      ].join("\n"),
    );
    return;
  }
  const t0 = Date.now();
  const tenant = await executeCreate(ctx, db, plan);
  const url = `${ctx.config.proxy.tls === "off" ? "http" : "https"}://${tenant.slug}.${ctx.config.domain}/`;
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ tenant: { ...tenant, server: plan.server.name, url }, seconds: (Date.now() - t0) / 1000 }, () => {
    ctx.out.success(`tenant ${tenant.slug} is ${tenant.status} at ${url} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return "";
  });
};
export default handler;
