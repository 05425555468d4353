import type { Handler } from "../../cli/program.js";
import { resolveTargetImage, spread, versionOf } from "../../core/upgrade/plan.js";
import { imagesOf } from "../../ops/tenant-context.js";

// `btw upgrade plan`: who runs what, the fleet's spread, what `upgrade n8n --to` would do per
// tenant, and pre-flight findings per server from its last `server check` (disk for the pull,
// memory). Reads the state only: instant, safe from cron — unless --breaking-changes, which
// asks each tenant to upgrade for n8n's own report (GET /rest/breaking-changes) over SSH.

const GiB = 1024 ** 3;
const PULL_DISK_BYTES = 3 * GiB; // an n8n image is ~1.5 GB unpacked; twice that to be safe

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const target = resolveTargetImage(typeof opts.to === "string" ? opts.to : ctx.config.images.n8n, ctx.config.images.n8n);
  const { listTenants } = await import("../../state/tenants.js");
  const { listServers } = await import("../../state/servers.js");
  const tenants = await listTenants(db);
  const servers = await listServers(db);
  const rows = tenants.map((t) => {
    const i = imagesOf(ctx, t);
    const action =
      i.n8n === target ? "none: already there"
      : t.status === "active" || t.status === "suspended" ? `backup, n8n ${versionOf(i.n8n)} → ${versionOf(target)}, checks (rollback on failure)`
      : `skipped: ${t.status}`;
    return { tenant: t.slug, server: t.serverName, status: t.status, plan: t.plan, n8n: i.n8n, postgres: i.postgres, redis: i.redis, recorded: t.n8nImage !== null, action };
  });
  const findings: Array<{ server: string; level: "ok" | "warn" | "unknown"; message: string }> = [];
  for (const s of servers) {
    if (!rows.some((r) => r.server === s.name && r.action.startsWith("backup"))) continue;
    const f = s.facts as { diskFreeBytes?: number; memAvailableBytes?: number } | null;
    if (!f || typeof f.diskFreeBytes !== "number") findings.push({ server: s.name, level: "unknown", message: "no disk figures: run `btw server check`" });
    else if (f.diskFreeBytes < PULL_DISK_BYTES) findings.push({ server: s.name, level: "warn", message: `${(f.diskFreeBytes / GiB).toFixed(1)} GiB free, the pull needs ~${PULL_DISK_BYTES / GiB} GiB: \`btw server check\` after freeing space` });
    else findings.push({ server: s.name, level: "ok", message: `${(f.diskFreeBytes / GiB).toFixed(1)} GiB free (checked ${s.checkedAt ? new Date(s.checkedAt).toISOString() : "?"})` });
  }
  // n8n's own report, per tenant to upgrade, when asked: it connects to every such tenant
  type Breaking = { tenant: string; findings: import("../../remote/n8n.js").BreakingChangeFinding[] | null; error: string | null };
  let breaking: Breaking[] | null = null;
  if (opts.breakingChanges) {
    const { HostPool, withTenantN8n } = await import("../../ops/workflows/tenant.js");
    const { mapLimit } = await import("../../core/workflows/index.js");
    const hosts = new HostPool(ctx);
    const todo = tenants.filter((t) => rows.find((r) => r.tenant === t.slug)!.action.startsWith("backup") && t.status === "active");
    breaking = await mapLimit(todo, 4, async (t): Promise<Breaking> => {
      try {
        return { tenant: t.slug, findings: await withTenantN8n(ctx, db, hosts, t, ({ api }) => api.breakingChanges(), { readyTimeoutMs: 10_000 }), error: null };
      } catch (e) {
        return { tenant: t.slug, findings: null, error: (e as Error).message.split("\n")[0]! };
      }
    });
  }
  const fleet = { n8n: spread(rows.map((r) => r.n8n)), postgres: spread(rows.map((r) => r.postgres)), redis: spread(rows.map((r) => r.redis)) };
  ctx.out.result({ target, defaultImage: ctx.config.images.n8n, fleet, tenants: rows, findings, ...(breaking ? { breakingChanges: breaking } : {}) }, () =>
    [
      `target: ${target}`,
      `fleet: ${fleet.n8n.map((s) => `${s.tenants}× n8n ${s.version}`).join(", ") || "no tenants"}`,
      rows.length ? ctx.out.table(rows, [
        { header: "tenant", value: (r) => r.tenant },
        { header: "server", value: (r) => r.server },
        { header: "status", value: (r) => r.status },
        { header: "n8n", value: (r) => versionOf(r.n8n) },
        { header: "postgres", value: (r) => versionOf(r.postgres) },
        { header: "redis", value: (r) => versionOf(r.redis) },
        { header: "upgrade would", value: (r) => r.action },
      ]) : "",
      ...findings.map((f) => `${f.server}: ${f.level}: ${f.message}`),
      ...(breaking
        ? breaking.map((b) =>
            b.error ? `${b.tenant}: breaking changes: cannot read: ${b.error}`
            : b.findings === null ? `${b.tenant}: breaking changes: this n8n offers no report (read the release notes of the target)`
            : b.findings.length === 0 ? `${b.tenant}: breaking changes: none found by n8n`
            : `${b.tenant}: breaking changes: ${b.findings.map((f) => `${f.rule} (${f.severity}${f.scope === "workflow" ? `, ${f.workflows} workflow(s)` : ""})`).join("; ")}`)
        : ["breaking changes: not checked (--breaking-changes asks each tenant's n8n for its own report)"]),
    ].filter(Boolean).join("\n"),
  );
};
export default handler;
