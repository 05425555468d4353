import type { Handler } from "../../cli/program.js";

// `btw tenant domain list [tenant]`: custom domains, one tenant's or all.
const handler: Handler = async (ctx, [name]) => {
  const db = await ctx.db();
  const { listTenantDomains } = await import("../../state/tenant-domains.js");
  let tenantId: number | undefined;
  if (typeof name === "string") {
    const { requireTenant } = await import("../../ops/tenant-context.js");
    tenantId = (await requireTenant(db, name)).id;
  }
  const rows = await listTenantDomains(db, tenantId === undefined ? {} : { tenantId });
  const domains = rows.map((d) => ({ tenant: d.tenantSlug, hostname: d.hostname, webhook: d.webhook, createdAt: d.createdAt }));
  ctx.out.result({ domains }, () =>
    domains.length === 0
      ? "no custom domains"
      : ctx.out.table(domains, [
          { header: "tenant", value: (d) => d.tenant },
          { header: "hostname", value: (d) => d.hostname },
          { header: "webhook", value: (d) => (d.webhook ? "yes" : "") },
          { header: "added", value: (d) => new Date(d.createdAt).toISOString().slice(0, 10) },
        ]),
  );
};
export default handler;
