import type { Handler } from "../../cli/program.js";
import { planWaves, versionOf } from "../../core/upgrade/plan.js";
import { checkRedisUpgrade, resolveRedisTarget } from "../../core/upgrade/redis.js";
import { ExitCode } from "../../errors.js";
import { storageFor } from "../../ops/backup/tenant.js";
import { imagesOf } from "../../ops/tenant-context.js";
import { unfinishedUpgrades } from "../../ops/upgrade/unfinished.js";
import { intOpt, selectTenants } from "./shared.js";

// `btw upgrade redis --to <version|image>`: minor versions within one major, the same
// rollout (waves, halt, report) as upgrade n8n and upgrade postgres.

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const target = resolveRedisTarget(typeof opts.to === "string" ? opts.to : ctx.config.images.redis, ctx.config.images.redis);
  const selected = await selectTenants(ctx, db, opts, "upgrade");
  const waveSize = intOpt(opts.waveSize, "--wave-size", 5, 1);
  const maxFailures = intOpt(opts.maxFailures, "--max-failures", 0);
  const readyTimeoutSec = intOpt(opts.readyTimeout, "--ready-timeout", 300, 10);
  const rollback = opts.rollback === true;
  const tenants = selected.map((t) => ({ slug: t.slug, server: t.serverName ?? "?", status: t.status, redis: imagesOf(ctx, t).redis }));
  // an interrupted upgrade already records the target: the same command must reach it to finish it
  const unfinished = await unfinishedUpgrades(db, selected, "redis");
  const todo = rollback ? tenants : tenants.filter((t) => t.redis !== target || unfinished.has(t.slug));
  if (!rollback) for (const t of todo.filter((x) => x.status !== "upgrading" && !unfinished.has(x.slug))) checkRedisUpgrade(t.slug, t.redis, target);
  if (opts.dryRun) {
    const w = planWaves(todo, { waveSize, canary: 0 });
    return void ctx.out.result({ dryRun: true, target, waves: w.waves.map((x) => x.map((t) => t.slug)) }, () =>
      [`would ${rollback ? "roll back interrupted Redis upgrades of" : `upgrade Redis to ${target} for`}:`, ...w.waves.map((x, i) => `  wave ${i + 1}: ${x.map((t) => `${t.slug} (${versionOf(t.redis)})`).join(", ")}`), "  per tenant: backup → pull → Redis recreated → readiness → version recorded; on failure the old image"].join("\n"),
    );
  }
  const storage = await storageFor(ctx);
  const { upgradeFleet } = await import("../../ops/upgrade/rollout.js");
  const { upgradeTenantRedis } = await import("../../ops/upgrade/redis.js");
  const step = (s: string) => ctx.out.info(`· ${s}`);
  const report = await upgradeFleet(ctx, db, storage, {
    target, tenants: todo, waveSize, canary: 0, canaryWatchSec: 0, maxFailures, readyTimeoutSec, step,
    upgradeOne: (slug) => upgradeTenantRedis(ctx, db, storage, slug, target, { readyTimeoutSec, rollback, step }),
  });
  await ctx.audit("upgrade.redis", todo.length === 1 ? todo[0]!.slug : "*", { target, rollback, ok: report.ok, halted: report.halted, notReached: report.notReached });
  ctx.out.result(report, () =>
    [
      ...report.results.map((r) => `${r.ok ? "✓" : "✗"} ${r.tenant} (${r.server}, ${r.wave}): ${r.outcome} redis ${versionOf(r.from)} → ${versionOf(r.to)} in ${r.seconds.toFixed(1)} s${r.error ? ` — ${r.error}` : ""}`),
      ...(report.notReached.length ? [`not reached (rollout halted): ${report.notReached.join(", ")}`] : []),
      `${report.results.filter((r) => r.ok).length}/${todo.length} done in ${report.seconds.toFixed(1)} s`,
    ].join("\n"),
  );
  if (!report.ok) return ExitCode.partial;
};
export default handler;
