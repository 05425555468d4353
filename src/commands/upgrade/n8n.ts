import type { Handler } from "../../cli/program.js";
import { describeN8nUpgrade } from "../../core/upgrade/n8n.js";
import { planWaves, resolveTargetImage, versionOf } from "../../core/upgrade/plan.js";
import { ExitCode } from "../../errors.js";
import { storageFor } from "../../ops/backup/tenant.js";
import { imagesOf } from "../../ops/tenant-context.js";
import { intOpt, selectTenants } from "./shared.js";

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const target = resolveTargetImage(String(opts.to ?? ""), ctx.config.images.n8n);
  const selected = await selectTenants(ctx, db, opts, "upgrade");
  const waveSize = intOpt(opts.waveSize, "--wave-size", 5, 1);
  const canary = intOpt(opts.canary, "--canary", 0);
  const maxFailures = intOpt(opts.maxFailures, "--max-failures", 0);
  const canaryWatchSec = intOpt(opts.canaryWatch, "--canary-watch", 60);
  const readyTimeoutSec = intOpt(opts.readyTimeout, "--ready-timeout", 300, 10);
  const tenants = selected.map((t) => ({ slug: t.slug, server: t.serverName ?? "?", status: t.status, n8n: imagesOf(ctx, t).n8n }));
  if (opts.dryRun) {
    const w = planWaves(tenants.filter((t) => t.n8n !== target), { waveSize, canary });
    return void ctx.out.result({ dryRun: true, target, canary: w.canary, waves: w.waves, unchanged: tenants.filter((t) => t.n8n === target).map((t) => t.slug) }, () =>
      [
        `would upgrade to ${target}:`,
        ...(w.canary.length ? [`  canary: ${w.canary.map((t) => `${t.slug} (${versionOf(t.n8n)})`).join(", ")}; watched ${canaryWatchSec} s`] : []),
        ...w.waves.map((x, i) => `  wave ${i + 1}: ${x.map((t) => `${t.slug} (${versionOf(t.n8n)})`).join(", ")}`),
        `  per tenant: ${describeN8nUpgrade()}`,
        `  halts after ${maxFailures + 1} failure(s)`,
      ].join("\n"),
    );
  }
  const storage = await storageFor(ctx);
  const { upgradeFleet } = await import("../../ops/upgrade/rollout.js");
  const report = await upgradeFleet(ctx, db, storage, { target, tenants, waveSize, canary, canaryWatchSec, maxFailures, readyTimeoutSec, step: (s) => ctx.out.info(`· ${s}`) });
  await ctx.audit("upgrade.n8n", tenants.length === 1 ? tenants[0]!.slug : "*", { target, ok: report.ok, halted: report.halted, failed: report.results.filter((r) => !r.ok).map((r) => r.tenant), notReached: report.notReached });
  ctx.out.result(report, () =>
    [
      ...report.results.map((r) => `${r.ok ? "✓" : "✗"} ${r.tenant} (${r.server}, ${r.wave}): ${r.outcome} ${versionOf(r.from)} → ${versionOf(r.to)} in ${r.seconds.toFixed(1)} s [${Object.entries(r.timings).map(([k, v]) => `${k} ${v} s`).join(", ")}]${r.error ? ` — ${r.error}` : ""}`),
      ...(report.notReached.length ? [`not reached (rollout halted): ${report.notReached.join(", ")}`] : []),
      `${report.results.filter((r) => r.ok).length}/${tenants.length} on ${versionOf(target)} in ${report.seconds.toFixed(1)} s`,
    ].join("\n"),
  );
  if (!report.ok) return ExitCode.partial;
};
export default handler;
