import type { Handler } from "../../cli/program.js";
import { requireCustomHostname } from "../../core/edge/domains.js";

// `btw tenant domain add <tenant> <hostname> [--webhook-url] [--skip-dns-check]`
const handler: Handler = async (ctx, [name, host], opts) => {
  const slug = String(name);
  const hostname = requireCustomHostname(String(host), ctx.config.domain);
  const db = await ctx.db();
  const { requireTenant } = await import("../../ops/tenant-context.js");
  const { defaultLookup, requireDnsToEdge, requireFreeHostname, addDomain } = await import("../../ops/tenant/domains.js");
  await requireTenant(db, slug);
  await requireFreeHostname(db, slug, hostname);
  const webhook = opts.webhookUrl === true;
  const dns = opts.skipDnsCheck === true ? null : await requireDnsToEdge(ctx, db, slug, hostname, await defaultLookup(ctx));
  if (dns) ctx.out.info(`· DNS: ${hostname} → ${dns.ok ? dns.detail : "?"}`);
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, tenant: slug, hostname, webhook, dns }, () =>
      [
        `would add ${hostname} to ${slug}: a tenant_domains row; the routes of ${slug}'s server${ctx.config.proxy.mode === "edge" ? " and every edge proxy's table" : ""} re-rendered and reloaded`,
        ...(webhook ? [`  and WEBHOOK_URL set to ${ctx.config.proxy.tls === "off" ? "http" : "https"}://${hostname}/ (.env rewritten, n8n recreated)`] : []),
      ].join("\n"),
    );
  }
  const r = await addDomain(ctx, db, slug, hostname, { webhook, dns, step: (s) => ctx.out.info(`· ${s}`) });
  ctx.out.result({ domain: r }, () => `${hostname} ${r.already ? "was already" : "is now"} routed to ${slug}${r.webhookUrl ? `; WEBHOOK_URL ${r.webhookUrl}` : ""}`);
};
export default handler;
