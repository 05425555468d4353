import type { Handler } from "../../cli/program.js";
import { requireTenant } from "../../ops/tenant-context.js";
import { fleetWorkflowStatus } from "../../ops/workflows/status.js";
import { sourceFor } from "./shared.js";

// Per tenant and workflow: the version recorded, the manifest's, whether n8n still holds what
// was deployed (drift) and publishes it. Unreachable tenants are rows, not a failure.
const handler: Handler = async (ctx, _args, opts) => {
  const source = sourceFor(ctx, opts);
  const db = await ctx.db();
  const { listTenants } = await import("../../state/tenants.js");
  const tenants = opts.tenant
    ? await (async () => {
        const t = await requireTenant(db, String(opts.tenant));
        return (await listTenants(db)).filter((x) => x.id === t.id);
      })()
    : await listTenants(db);
  const rows = await fleetWorkflowStatus(ctx, db, tenants, source);
  const unreachable = rows.filter((r) => r.state === "unreachable");
  const drift = rows.filter((r) => r.state === "drift");
  for (const r of unreachable) ctx.out.warn(`${r.tenant}: unreachable: ${r.detail}`);
  ctx.out.result({ source: source.origin, tenants: tenants.length, rows }, () =>
    rows.length === 0
      ? "no tenants"
      : [
          ctx.out.table(rows, [
            { header: "tenant", value: (r) => r.tenant },
            { header: "workflow", value: (r) => r.workflow },
            { header: "deployed", value: (r) => r.version, align: "right" },
            { header: "latest", value: (r) => r.target, align: "right" },
            { header: "n8n id", value: (r) => r.n8nId },
            { header: "published", value: (r) => (r.published === null ? null : r.published ? "yes" : "NO") },
            { header: "state", value: (r) => (r.state === "ok" ? "ok" : r.state.toUpperCase()) },
            { header: "detail", value: (r) => r.detail },
          ]),
          drift.length ? `drift: ${[...new Set(drift.map((d) => d.tenant))].map((t) => `\`btw workflows diff --tenant ${t}\``).join(", ")} shows the edits` : "",
        ]
          .filter(Boolean)
          .join("\n"),
  );
};
export default handler;
