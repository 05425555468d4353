import type { Handler } from "../../cli/program.js";
import { renderDiff } from "../../core/workflows/index.js";
import { requireTenant } from "../../ops/tenant-context.js";
import { tenantDiff } from "../../ops/workflows/status.js";
import { sourceFor } from "./shared.js";

// What `workflows deploy --tenant T` would change, node by node; for drift, what was edited
// in the tenant's n8n since btw deployed it (recorded → live).
const handler: Handler = async (ctx, _args, opts) => {
  const source = sourceFor(ctx, opts);
  const db = await ctx.db();
  const tenant = await requireTenant(db, String(opts.tenant));
  const d = await tenantDiff(ctx, db, tenant, source, { force: Boolean(opts.force) });
  ctx.out.result({ source: source.origin, ...d }, () => {
    const lines = [`${d.tenant}: ${d.summary}`];
    for (const w of d.workflows) {
      const versions = w.fromVersion && w.fromVersion !== w.version ? ` ${w.fromVersion} → ${w.version}` : ` ${w.version}`;
      lines.push("", `${w.workflow}${versions}: ${w.action} — ${w.reason}`);
      if (w.edited) lines.push("  edited in n8n (recorded → live):", ...renderDiff(w.edited).map((l) => `  ${l}`));
      if (w.deploy) lines.push(`  ${w.action === "drift" ? "a forced deploy would push" : "deploy pushes"} (${w.action === "create" ? "new" : "live → template"}):`, ...renderDiff(w.deploy).map((l) => `  ${l}`));
      if (w.note) lines.push(`  note: ${w.note}`);
    }
    return lines.join("\n");
  });
};
export default handler;
