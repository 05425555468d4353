import type { Handler } from "../../cli/program.js";
import { requireCustomHostname } from "../../core/edge/domains.js";

// `btw tenant domain remove <tenant> <hostname>`
const handler: Handler = async (ctx, [name, host], opts) => {
  const slug = String(name);
  const hostname = requireCustomHostname(String(host), ctx.config.domain);
  const db = await ctx.db();
  const { requireTenant } = await import("../../ops/tenant-context.js");
  const t = await requireTenant(db, slug);
  if (opts.dryRun) {
    const { listTenantDomains } = await import("../../state/tenant-domains.js");
    const row = (await listTenantDomains(db, { tenantId: t.id })).find((d) => d.hostname === hostname);
    return void ctx.out.result({ dryRun: true, tenant: slug, hostname, found: row !== undefined, webhook: row?.webhook ?? false }, () =>
      row
        ? `would remove ${hostname} from ${slug} and re-render the routes${row.webhook ? `; WEBHOOK_URL back to ${slug}.${ctx.config.domain} (n8n recreated)` : ""}`
        : `${hostname} is not a domain of ${slug}`,
    );
  }
  await ctx.confirm(`Stop routing ${hostname} to ${slug}?`, opts.yes as boolean | undefined);
  const { removeDomain } = await import("../../ops/tenant/domains.js");
  const r = await removeDomain(ctx, db, slug, hostname, (s) => ctx.out.info(`· ${s}`));
  ctx.out.result({ domain: r }, () => `${hostname} is no longer routed to ${slug}${r.webhookUrl ? `; WEBHOOK_URL ${r.webhookUrl}` : ""}`);
};
export default handler;
