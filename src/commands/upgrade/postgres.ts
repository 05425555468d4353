import type { Handler } from "../../cli/program.js";
import { planWaves, versionOf } from "../../core/upgrade/plan.js";
import { planPostgresUpgrade, postgresSteps, resolvePostgresTarget } from "../../core/upgrade/postgres.js";
import { ExitCode, UsageError } from "../../errors.js";
import { storageFor } from "../../ops/backup/tenant.js";
import { imagesOf } from "../../ops/tenant-context.js";
import { unfinishedUpgrades } from "../../ops/upgrade/unfinished.js";
import { intOpt, selectTenants } from "./shared.js";

// `btw upgrade postgres`: the fleet rollout of upgrade n8n (waves, halt, report) with a
// Postgres major upgrade per tenant (src/ops/upgrade/postgres.ts); `--cleanup` removes
// the old volumes an upgrade kept.

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  if (opts.cleanup) return cleanup(ctx, db, opts);
  const target = resolvePostgresTarget(typeof opts.to === "string" ? opts.to : ctx.config.images.postgres, ctx.config.images.postgres);
  const selected = await selectTenants(ctx, db, opts, "upgrade");
  const waveSize = intOpt(opts.waveSize, "--wave-size", 5, 1);
  const maxFailures = intOpt(opts.maxFailures, "--max-failures", 0);
  const readyTimeoutSec = intOpt(opts.readyTimeout, "--ready-timeout", 300, 10);
  const rollback = opts.rollback === true;
  const tenants = selected.map((t) => ({ slug: t.slug, server: t.serverName ?? "?", status: t.status, images: imagesOf(ctx, t) }));
  // an interrupted upgrade already records the target: the same command must reach it to finish it
  const unfinished = await unfinishedUpgrades(db, selected, "postgres");
  const todo = rollback ? tenants : tenants.filter((t) => t.images.postgres !== target || unfinished.has(t.slug));
  // bad input before anything changes: a downgrade, the same major, an unknown major
  const plans = rollback ? [] : todo.filter((t) => t.status !== "upgrading" && !unfinished.has(t.slug)).map((t) => ({ slug: t.slug, plan: planPostgresUpgrade(t.slug, t.images, target) }));
  if (opts.dryRun) {
    const w = planWaves(todo, { waveSize, canary: 0 });
    return void ctx.out.result({ dryRun: true, target, waves: w.waves.map((x) => x.map((t) => t.slug)), plans, unchanged: tenants.filter((t) => !todo.includes(t)).map((t) => t.slug), steps: postgresSteps("prepared") }, () =>
      [
        `would ${rollback ? "roll back interrupted Postgres upgrades of" : `upgrade Postgres to ${target} for`}:`,
        ...w.waves.map((x, i) => `  wave ${i + 1}: ${x.map((t) => `${t.slug} (${versionOf(t.images.postgres)})`).join(", ")}`),
        ...plans.map(({ slug, plan: p }) => `  ${slug}: ${p.fromVolume} (kept) → ${p.toVolume}, dump ${p.dumpFile}`),
        `  per tenant: ${postgresSteps("prepared").join(" → ")}; on failure the old image on the old volume`,
        `  halts after ${maxFailures + 1} failure(s)`,
      ].join("\n"),
    );
  }
  const storage = await storageFor(ctx);
  const { upgradeFleet } = await import("../../ops/upgrade/rollout.js");
  const { upgradeTenantPostgres } = await import("../../ops/upgrade/postgres.js");
  const step = (s: string) => ctx.out.info(`· ${s}`);
  const report = await upgradeFleet(ctx, db, storage, {
    target, tenants: todo, waveSize, canary: 0, canaryWatchSec: 0, maxFailures, readyTimeoutSec, step,
    upgradeOne: (slug) => upgradeTenantPostgres(ctx, db, storage, slug, target, { readyTimeoutSec, rollback, step }),
  });
  await ctx.audit("upgrade.postgres", todo.length === 1 ? todo[0]!.slug : "*", { target, rollback, ok: report.ok, halted: report.halted, failed: report.results.filter((r) => !r.ok).map((r) => r.tenant), notReached: report.notReached });
  ctx.out.result(report, () =>
    [
      ...report.results.map((r) => `${r.ok ? "✓" : "✗"} ${r.tenant} (${r.server}, ${r.wave}): ${r.outcome} postgres ${versionOf(r.from)} → ${versionOf(r.to)} in ${r.seconds.toFixed(1)} s [${Object.entries(r.timings).map(([k, v]) => `${k} ${v} s`).join(", ")}]${r.error ? ` — ${r.error}` : ""}`),
      ...(report.notReached.length ? [`not reached (rollout halted): ${report.notReached.join(", ")}`] : []),
      `${report.results.filter((r) => r.ok).length}/${todo.length} ${rollback ? "rolled back" : `on Postgres ${versionOf(target)}`} in ${report.seconds.toFixed(1)} s`,
      ...(rollback ? [] : ["old data volumes kept: `btw upgrade postgres --cleanup --tenant <name>` removes them once you are satisfied"]),
    ].join("\n"),
  );
  if (!report.ok) return ExitCode.partial;
};

async function cleanup(ctx: Parameters<Handler>[0], db: Awaited<ReturnType<Parameters<Handler>[0]["db"]>>, opts: Record<string, unknown>) {
  const named = ([] as string[]).concat((opts.tenant as string[] | string | undefined) ?? []);
  if (named.length !== 1 || opts.all || opts.server || opts.to || opts.rollback) throw new UsageError("--cleanup takes exactly one --tenant <name> (and --yes), nothing else");
  const { cleanupPostgresVolumes } = await import("../../ops/upgrade/postgres-cleanup.js");
  const r = await cleanupPostgresVolumes(ctx, db, named[0]!, { dryRun: opts.dryRun === true, yes: opts.yes as boolean | undefined });
  ctx.out.result(r, () =>
    r.removed.length === 0 && r.wouldRemove.length === 0
      ? `${r.tenant}: nothing kept (Postgres runs on ${r.inUse})`
      : [`${r.tenant}: Postgres runs on ${r.inUse}`, ...(opts.dryRun ? r.wouldRemove.map((v) => `  would remove ${v}`) : r.removed.map((v) => `  removed ${v}`))].join("\n"),
  );
}
export default handler;
