import type { Handler } from "../../cli/program.js";
import { ExitCode, UsageError } from "../../errors.js";
import type { PruneItem } from "../../ops/tenant/content-prune.js";

// `btw tenant content prune [name] [--all]`: delete content keywords and clusters older than
// the tenant's plan's contentRetentionDays (articles, and the clusters they belong to, stay).
// Run daily by the scheduled job content-prune.

const handler: Handler = async (ctx, [name], opts) => {
  if ((name === undefined) === !opts.all) throw new UsageError("name one tenant or pass --all", { code: "prune-target" });
  const db = await ctx.db();
  const { listTenants } = await import("../../state/tenants.js");
  const { prunePlan } = await import("../../core/content/retention.js");
  const live = await listTenants(db, { status: ["active", "suspended"] });
  const chosen = opts.all ? live : live.filter((t) => t.slug === name);
  if (!opts.all && chosen.length === 0) {
    const { requireTenant } = await import("../../ops/tenant-context.js");
    const t = await requireTenant(db, String(name));
    throw new UsageError(`${t.slug} is ${t.status}: only an active or suspended tenant's content can be pruned`, { code: "tenant-not-prunable" });
  }
  const plan = prunePlan(chosen, ctx.config.plans);
  const skipped: PruneItem[] = plan.keep.map((k) => ({ tenant: k.tenant.slug, server: k.tenant.serverName ?? "?", ok: true, skipped: true, reason: k.reason }));
  if (opts.dryRun) {
    const { contentPruneSql } = await import("../../core/content/retention.js");
    const data = { dryRun: true, prune: plan.prune.map((p) => ({ tenant: p.tenant.slug, days: p.days, sql: contentPruneSql(p.days) })), skipped };
    return void ctx.out.result(data, () =>
      [...data.prune.map((p) => `would delete ${p.tenant}'s content keywords and clusters older than ${p.days} days (articles kept)`), ...skipped.map((s) => `  - ${s.tenant}: ${s.reason}`)].join("\n") ||
      "no tenant to prune",
    );
  }
  const { pruneContent } = await import("../../ops/tenant/content-prune.js");
  const results = [...(await pruneContent(ctx, db, plan.prune)), ...skipped];
  ctx.out.result({ results }, () =>
    results.length === 0
      ? "no tenant to prune"
      : results
          .map((r) =>
            r.skipped ? `  - ${r.tenant}: ${r.reason}` : r.ok ? `  ✓ ${r.tenant}: ${r.keywords} keyword(s), ${r.clusters} cluster(s) older than ${r.days} days deleted` : `  ✗ ${r.tenant} (${r.server}): ${r.error}`,
          )
          .join("\n"),
  );
  if (results.some((r) => !r.ok)) return ExitCode.partial;
};
export default handler;
