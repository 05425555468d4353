import type { Handler } from "../../cli/program.js";
import { resolveTargetImage, spread, versionOf } from "../../core/upgrade/plan.js";
import { imagesOf } from "../../ops/tenant-context.js";

// `btw upgrade plan`: who runs what, the fleet's spread, what `upgrade n8n --to` would do per
// tenant, and pre-flight findings per server from its last `server check` (disk for the pull,
// memory). Reads the state only: instant, safe from cron.

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
  const fleet = { n8n: spread(rows.map((r) => r.n8n)), postgres: spread(rows.map((r) => r.postgres)), redis: spread(rows.map((r) => r.redis)) };
  ctx.out.result({ target, defaultImage: ctx.config.images.n8n, fleet, tenants: rows, findings }, () =>
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
      "breaking changes: not checked by this plan (read n8n's release notes for the target)",
    ].filter(Boolean).join("\n"),
  );
};
export default handler;
