import type { Handler } from "../../cli/program.js";
import { mapLimit, planWaves, selectRolloutTargets, versionLabel, type RolloutReport } from "../../core/workflows/index.js";
import { ConflictError, PartialFailureError, UsageError } from "../../errors.js";
import { requireTenant } from "../../ops/tenant-context.js";
import { deployWorkflows, summarizeItems } from "../../ops/workflows/deploy.js";
import { runRollout } from "../../ops/workflows/rollout.js";
import { HostPool, withTenantN8n } from "../../ops/workflows/tenant.js";
import type { TenantListRow } from "../../state/tenants.js";
import { secs, sourceFor } from "./shared.js";

// Pushes the templates to one tenant or the fleet, in waves; a wave must come out healthy
// before the next starts, and a failure halts the rollout (exit 3) with a per-tenant report.
const handler: Handler = async (ctx, _args, opts) => {
  if (Boolean(opts.tenant) === Boolean(opts.all)) {
    throw new UsageError("name the tenants: --tenant <name> or --all", { hint: "e.g. `btw workflows deploy --tenant acme` first, then `btw workflows deploy --all --wave-size 10`" });
  }
  const source = sourceFor(ctx, opts);
  const db = await ctx.db();
  const { listTenants } = await import("../../state/tenants.js");
  let tenants: TenantListRow[];
  if (opts.tenant) {
    const t = await requireTenant(db, String(opts.tenant));
    if (t.status !== "active") {
      throw new ConflictError(`cannot deploy to tenant '${t.slug}': it is ${t.status}`, { code: "tenant-wrong-status", hint: t.status === "suspended" ? `\`btw tenant resume ${t.slug}\` first` : `\`btw tenant show ${t.slug}\`` });
    }
    tenants = (await listTenants(db)).filter((x) => x.id === t.id);
  } else {
    tenants = await listTenants(db);
  }
  const waveSize = Number(opts.waveSize ?? 10);
  const force = Boolean(opts.force);

  if (opts.dryRun) {
    const { targets, skipped } = selectRolloutTargets(tenants.map((t) => ({ ...t, server: t.serverName })));
    const waves = planWaves(targets, waveSize);
    const hosts = new HostPool(ctx);
    const plans = await mapLimit(targets, 4, async (t) => {
      try {
        const r = await withTenantN8n(ctx, db, hosts, t, ({ api, secrets }) => deployWorkflows(ctx, db, t, api, secrets, { dryRun: true, force, source }), { readyTimeoutMs: 10_000 });
        return { tenant: t.slug, plan: r.items.map(({ applied: _a, ...p }) => p), error: null as string | null };
      } catch (e) {
        return { tenant: t.slug, plan: [], error: (e as Error).message.split("\n")[0]! };
      }
    });
    const byTenant = new Map(plans.map((p) => [p.tenant, p]));
    const data = {
      dryRun: true,
      source: source.origin,
      waveSize,
      waves: waves.map((w, i) => ({ wave: i + 1, tenants: w.map((t) => byTenant.get(t.slug)!) })),
      skipped: skipped.map((s) => ({ tenant: s.tenant.slug, reason: s.reason })),
    };
    ctx.out.result(data, () =>
      [
        ...data.waves.flatMap((w) => [`wave ${w.wave}/${data.waves.length}:`, ...w.tenants.map((t) => `  ${t.tenant}: ${t.error ? `cannot plan: ${t.error}` : summarizeItems(t.plan)}`)]),
        ...data.skipped.map((s) => `skip ${s.tenant}: ${s.reason}`),
        "(dry run: nothing changed)",
      ].join("\n"),
    );
    return;
  }

  const { report, errors } = await runRollout(ctx, db, tenants, { source, waveSize, force, progress: ctx.out.json ? undefined : (l) => ctx.out.info(l) });
  const single = opts.tenant ? report.tenants[0] : undefined;
  if (single?.outcome === "failed" && errors.has(single.tenant)) throw errors.get(single.tenant);
  const failed = report.tenants.filter((t) => t.outcome === "failed");
  if (failed.length) {
    const message = `rollout halted after wave ${report.halted?.wave}/${report.waves}: ${failed.map((f) => `${f.tenant} (${f.error})`).join("; ")}; ${report.counts["not-started"]} tenant(s) not started`;
    const hint = "fix the failed tenants (`btw workflows status`), then run the same deploy again: tenants already up to date are unchanged";
    if (ctx.out.json) throw new PartialFailureError(message, { hint, details: { rollout: report } });
    ctx.out.result(report, () => render(ctx, report));
    throw new PartialFailureError(message, { hint });
  }
  ctx.out.result(report, () => render(ctx, report));
};

function render(ctx: Parameters<Handler>[0], r: RolloutReport): string {
  if (r.tenants.length === 0) return "no tenants";
  const keys = Object.keys(r.target);
  const table = ctx.out.table(r.tenants, [
    { header: "wave", value: (t) => t.wave, align: "right" },
    { header: "tenant", value: (t) => t.tenant },
    { header: "server", value: (t) => t.server },
    { header: "result", value: (t) => t.outcome },
    ...keys.map((k) => ({ header: k, value: (t: (typeof r.tenants)[number]) => t.versions[k] ?? null, align: "right" as const })),
    { header: "seconds", value: (t) => secs(t.seconds), align: "right" },
    { header: "detail", value: (t) => t.error ?? t.summary },
  ]);
  const groups = r.versionGroups.map((g) => `${g.current ? "at target " : "behind    "} ${versionLabel(g.versions)}: ${g.tenants.length} tenant(s) (${g.tenants.join(", ")})`);
  const c = r.counts;
  const summary = `${c.deployed} deployed, ${c.unchanged} unchanged, ${c.failed} failed, ${c["not-started"]} not started, ${c.skipped} skipped; waves ${r.wavesRun}/${r.waves} of up to ${r.waveSize}`;
  return [table.trimEnd(), "", ...groups, summary].join("\n");
}
export default handler;
