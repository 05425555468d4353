import type { Handler } from "../../cli/program.js";
import { ExitCode, OperationError, UsageError } from "../../errors.js";

// `btw fleet rebalance`: the smallest set of migrations that brings every server under its
// capacity policy (src/core/rebalance.ts), printed; with --apply, run one at a time with the
// migration's own safety (`tenant migrate`'s backup, journal, kill-and-resume), stopping at the
// first failure. Resumable: a run that was killed leaves a migration unfinished, and the next
// --apply finishes it before it plans again from the state as it is then.

const percent = (x: number) => `${Math.round(x * 100)} %`;
/** "lab-1 uses 92 % of its CPU → 55 %, lab-2 18 % → 55 %" */
const spreadWhy = (from: string, to: string, s: { resource: string; from: [number, number]; to: [number, number] }) =>
  `${from} uses ${percent(s.from[0])} of its ${s.resource === "cpu" ? "CPU" : "memory"} → ${percent(s.from[1])}, ${to} ${percent(s.to[0])} → ${percent(s.to[1])}`;

const handler: Handler = async (ctx, _args, opts) => {
  if (opts.maxMoves !== undefined && !opts.spread) throw new UsageError("--max-moves bounds the spreading moves: it needs --spread", { hint: "btw fleet rebalance --spread --max-moves <n>" });
  const db = await ctx.db();
  const { listServers } = await import("../../state/servers.js");
  const { listTenants } = await import("../../state/tenants.js");
  const { planRebalance, DEFAULT_SPREAD } = await import("../../core/rebalance.js");
  const { capacityPolicy } = await import("../../core/capacity.js");
  const { isolationInPlace } = await import("../../core/server/isolation-check.js");
  const { tenantUse } = await import("../../ops/tenant/placement.js");
  const plan = async () => {
    const [servers, tenants, use] = await Promise.all([listServers(db), listTenants(db), tenantUse(db)]);
    return planRebalance({
        servers: servers.map((s) => ({ name: s.name, status: s.status, isolated: isolationInPlace(s.facts), facts: s.facts, capacity: s.capacity })),
        tenants: tenants.filter((t) => t.serverName !== null).map((t) => ({ slug: t.slug, plan: t.plan, weight: t.weight, server: t.serverName!, status: t.status, use: use.get(t.id) ?? null })),
        plans: ctx.config.plans,
        policy: capacityPolicy(ctx.config),
        ...(opts.spread ? { spread: { ...DEFAULT_SPREAD, maxMoves: (opts.maxMoves as number | undefined) ?? DEFAULT_SPREAD.maxMoves } } : {}),
      });
  };
  const describe = (r: Awaited<ReturnType<typeof plan>>) =>
    [
      r.moves.length ? `${r.moves.length} move(s):` : "no move needed",
      ...r.moves.map((m, i) => `  ${i + 1}. ${m.tenant} (${m.plan}) ${m.from} → ${m.to}  (${m.spread ? spreadWhy(m.from, m.to, m.spread) : `${m.from} over: ${m.why.join(", ")}`})`),
      ...r.unresolved.map((u) => `  ${u.server} stays over its policy (${u.over.join(", ")}): ${u.reason}`),
    ].join("\n");

  if (!opts.apply || opts.dryRun) {
    const r = await plan();
    ctx.out.result({ moves: r.moves, unresolved: r.unresolved, dryRun: true }, () => describe(r) + (opts.apply ? "" : r.moves.length ? "\n`btw fleet rebalance --apply` runs them, one at a time" : ""));
    return r.unresolved.length ? ExitCode.partial : ExitCode.ok;
  }

  const { storageFor } = await import("../../ops/backup/tenant.js");
  const { migrateTenant } = await import("../../ops/tenant/migrate/run.js");
  const { unfinishedMigration } = await import("../../ops/tenant/migrate/journal.js");
  const storage = await storageFor(ctx);
  const step = (s: string) => ctx.out.info(`  · ${s}`);
  const done: Array<{ tenant: string; from: string; to: string; seconds: number }> = [];
  // a migration a killed run left: finished first, where it was going
  for (const t of (await listTenants(db)).filter((x) => x.status === "migrating")) {
    const m = await unfinishedMigration(db, t.id);
    if (!m) continue;
    ctx.out.info(`finishing ${t.slug}'s migration ${m.details.from} → ${m.details.to} (a run that did not finish)`);
    const r = await migrateTenant(ctx, db, storage, t.slug, m.details.to, step);
    done.push({ tenant: t.slug, from: r.from, to: r.to, seconds: r.seconds });
  }
  const r = await plan();
  if (r.moves.length > 0) await ctx.confirm(`${describe(r)}\nRun these migrations now (each tenant shows its maintenance page while it moves)?`, opts.yes as boolean | undefined);
  try {
    for (const m of r.moves) {
      ctx.out.info(`migrating ${m.tenant} ${m.from} → ${m.to}`);
      const res = await migrateTenant(ctx, db, storage, m.tenant, m.to, step);
      done.push({ tenant: m.tenant, from: res.from, to: res.to, seconds: res.seconds });
    }
  } catch (e) {
    const failed = r.moves.find((m) => !done.some((d) => d.tenant === m.tenant));
    throw new OperationError(`rebalance stopped at ${failed?.tenant ?? "a migration"} (${done.length} done): ${(e as Error).message}`, {
      code: "rebalance-stopped",
      hint: "fix the cause, then `btw fleet rebalance --apply` again: it finishes that migration and plans the rest anew",
      cause: e,
    });
  } finally {
    if (done.length > 0) await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  }
  const after = await plan();
  ctx.out.result({ migrated: done, unresolved: after.unresolved }, () =>
    [
      done.length ? `${done.length} tenant(s) moved: ${done.map((d) => `${d.tenant} ${d.from} → ${d.to} (${d.seconds.toFixed(1)} s)`).join(", ")}` : "no move needed",
      ...(done.length ? ["their source stacks are kept for --rollback: `btw tenant migrate <t> --cleanup` removes each"] : []),
      ...after.unresolved.map((u) => `${u.server} stays over its policy (${u.over.join(", ")}): ${u.reason}`),
    ].join("\n"),
  );
  return after.unresolved.length ? ExitCode.partial : ExitCode.ok;
};
export default handler;
