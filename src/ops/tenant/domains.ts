import { isIP } from "node:net";
import type { Ctx } from "../../cli/context.js";
import { composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { checkDomainDns, type DnsLookup, type DnsVerdict } from "../../core/edge/domains.js";
import { ConflictError, OperationError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { TenantDomainRow } from "../../state/tenant-domains.js";
import type { TenantRow } from "../../state/tenants.js";
import { adoptImages, hostFor, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../tenant-context.js";
import { readAllSecrets } from "../tenant-secrets.js";

// `tenant domain add|remove`: a customer's hostname routed to its tenant. The row comes
// first (under the tenant's lock), then every route is rendered from the state again — the
// tenant server's proxy (both modes: it answers for the Host the edge passes on, and with
// tls auto obtains the certificate) and, in edge mode, every edge proxy's table. With
// --webhook-url, n8n's WEBHOOK_URL moves to the domain (.env rewritten, n8n recreated, as
// set-plan does). Killed half-way, the same command finishes it (every step converges on
// the state) and `remove` undoes it. Both are journaled in `operations` (kind tenant.domain):
// a remove killed after its row went is finished by running it again.

export const DOMAIN_KIND = "tenant.domain";

export interface DomainChange {
  tenant: string;
  hostname: string;
  webhook: boolean;
  /** what the DNS check found; null with --skip-dns-check or on remove */
  dns: DnsVerdict | null;
  server: string;
  /** edge mode: the edge proxies re-synced; null in direct mode */
  edgeProxies: string[] | null;
  /** n8n's WEBHOOK_URL after the change, when it changed */
  webhookUrl: string | null;
  /** the domain was already the tenant's: the routes were converged again */
  already: boolean;
}

type Step = (s: string) => void;

const LIVE: TenantRow["status"][] = ["active", "suspended"];

function requireLive(t: TenantRow, verb: string): void {
  if (!LIVE.includes(t.status)) throw new ConflictError(`cannot ${verb} a domain of tenant '${t.slug}': it is ${t.status}`, { code: "tenant-wrong-status", hint: `\`btw tenant show ${t.slug}\`` });
}

/** Refuses a hostname another tenant holds; returns the row when the tenant holds it already. */
export async function requireFreeHostname(db: Db, slug: string, hostname: string): Promise<TenantDomainRow | null> {
  const { getTenantDomain } = await import("../../state/tenant-domains.js");
  const row = await getTenantDomain(db, hostname);
  if (row && row.tenantSlug !== slug) throw new ConflictError(`${hostname} is already a domain of tenant ${row.tenantSlug}`, { code: "domain-taken", hint: `\`btw tenant domain remove ${row.tenantSlug} ${hostname}\` first` });
  return row;
}

/**
 * The DNS check of `add`; throws a one-line ConflictError naming what to set (a CNAME to the
 * tenant's name, or the edge's addresses with the TXT token, which the line prints). The
 * edge's addresses are what `<tenant>.<domain>` resolves to; in direct mode the tenant
 * server's public address counts too (its proxy is the edge there).
 */
export async function requireDnsToEdge(ctx: Ctx, db: Db, slug: string, hostname: string, lookup: DnsLookup): Promise<DnsVerdict> {
  const tenant = await requireTenant(db, slug);
  const extra: string[] = [];
  if (ctx.config.proxy.mode === "direct") {
    const server = await tenantServer(db, tenant).catch(() => null);
    if (server && isIP(server.host)) extra.push(server.host);
  }
  const verdict = await checkDomainDns(hostname, { id: tenant.id, slug, domain: ctx.config.domain }, lookup, extra);
  if (!verdict.ok) throw new ConflictError(verdict.reason, { code: "domain-dns" });
  return verdict;
}

export async function defaultLookup(ctx: Ctx): Promise<DnsLookup> {
  const { dnsLookup, dnsServersFrom } = await import("../../remote/dns.js");
  return dnsLookup(dnsServersFrom(ctx.env));
}

/** Every route from the state again: the tenant's server, then (edge mode) every edge proxy. */
async function reroute(ctx: Ctx, db: Db, t: TenantRow, step: Step): Promise<{ server: string; edgeProxies: string[] | null }> {
  const server = await tenantServer(db, t);
  const { syncRoutes } = await import("../proxy.js");
  step(`routes of ${server.name} re-rendered and reloaded`);
  await syncRoutes(await hostFor(ctx, server), db, ctx, server);
  if (ctx.config.proxy.mode !== "edge") return { server: server.name, edgeProxies: null };
  const { edgeTargets, switchEdgeRoutes } = await import("../edge/switch.js");
  const edges = await edgeTargets(ctx);
  step(`edge tables re-synced on ${edges.map((e) => e.name).join(", ")}`);
  await switchEdgeRoutes(ctx, db, edges);
  return { server: server.name, edgeProxies: edges.map((e) => e.name) };
}

/** .env rewritten with the webhook host the state names; n8n recreated when it runs. */
async function applyWebhook(ctx: Ctx, db: Db, t: TenantRow, step: Step): Promise<string> {
  const { webhookHostOf } = await import("../../state/tenant-domains.js");
  const server = await tenantServer(db, t);
  const host = await hostFor(ctx, server);
  const plan = requirePlan(ctx, t.plan);
  const webhookHost = await webhookHostOf(db, t.id);
  const secrets = await readAllSecrets(db, await ctx.master(), t.id);
  await writeTenantFiles(host, t.slug, envFor(ctx, { slug: t.slug, plan, timezone: t.timezone, subnet: t.subnet!, images: await adoptImages(ctx, db, t), webhookHost }, secrets));
  if (t.status === "active") {
    step("n8n recreated with the new WEBHOOK_URL");
    await host.run(composeUp(t.slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
  }
  const protocol = ctx.config.proxy.tls === "off" ? "http" : "https";
  return `${protocol}://${webhookHost ?? `${t.slug}.${ctx.config.domain}`}/`;
}

function failed(e: unknown, slug: string, hostname: string, verb: "add" | "remove"): never {
  const message = (e as Error).message.split("\n")[0]!;
  throw new OperationError(`${verb === "add" ? "adding" : "removing"} ${hostname} for ${slug} did not finish: ${message}`, {
    code: "domain-failed",
    hint: verb === "add" ? `re-run \`btw tenant domain add ${slug} ${hostname}\` to finish, or \`btw tenant domain remove ${slug} ${hostname}\` to undo` : `re-run \`btw tenant domain remove ${slug} ${hostname}\``,
    cause: e,
  });
}

export async function addDomain(ctx: Ctx, db: Db, slug: string, hostname: string, o: { webhook: boolean; dns: DnsVerdict | null; step: Step }): Promise<DomainChange> {
  const lock = await lockTenant(db, slug);
  try {
    const t = await requireTenant(db, slug);
    requireLive(t, "add");
    const existing = await requireFreeHostname(db, slug, hostname);
    const { insertTenantDomain, setWebhookDomain, webhookHostOf } = await import("../../state/tenant-domains.js");
    const webhookBefore = await webhookHostOf(db, t.id);
    await db.transaction(async (tx) => {
      if (!existing && !(await insertTenantDomain(tx, { tenantId: t.id, hostname, webhook: false }))) {
        throw new ConflictError(`${hostname} was just taken by another tenant`, { code: "domain-taken" });
      }
      if (o.webhook) await setWebhookDomain(tx, t.id, hostname);
    });
    const { startStep, finishStep, failStep, lastStep } = await import("../../state/operations.js");
    const previous = await lastStep(db, t.id, DOMAIN_KIND, "add");
    const interrupted = previous !== null && previous.status !== "done" && previous.details.hostname === hostname;
    const op = await startStep(db, { kind: DOMAIN_KIND, step: "add", tenantId: t.id, details: { hostname, webhook: o.webhook } });
    try {
      const routed = await reroute(ctx, db, t, o.step);
      // n8n is recreated only when WEBHOOK_URL changes, or when an interrupted add of this
      // domain may have left the old .env (a finished one re-run restarts nothing)
      const webhookNow = o.webhook || webhookBefore === hostname;
      const webhookUrl = (o.webhook && webhookBefore !== hostname) || (interrupted && webhookNow) ? await applyWebhook(ctx, db, t, o.step) : null;
      await finishStep(db, op.id);
      await ctx.audit("tenant.domain.add", slug, { hostname, webhook: o.webhook, before: { webhookHost: webhookBefore }, dns: o.dns, edgeProxies: routed.edgeProxies, already: existing !== null });
      return { tenant: slug, hostname, webhook: o.webhook || existing?.webhook === true, dns: o.dns, ...routed, webhookUrl, already: existing !== null };
    } catch (e) {
      await failStep(db, op.id, (e as Error).message.split("\n")[0]!.slice(0, 500)).catch(() => {});
      // Another btw state's site file on the server routes this host (syncRoutes refused it
      // before writing anything): a refusal, not an unfinished add — the row this run made
      // goes, else every later route change of this state on that server would be refused too.
      if (e instanceof ConflictError && e.code === "proxy-host-taken" && !existing) {
        const { deleteTenantDomain } = await import("../../state/tenant-domains.js");
        await db.transaction(async (tx) => {
          if (o.webhook && webhookBefore !== hostname) await setWebhookDomain(tx, t.id, webhookBefore);
          await deleteTenantDomain(tx, t.id, hostname);
        });
        throw e;
      }
      failed(e, slug, hostname, "add");
    }
  } finally {
    await lock.release();
  }
}

export async function removeDomain(ctx: Ctx, db: Db, slug: string, hostname: string, step: Step): Promise<DomainChange> {
  const lock = await lockTenant(db, slug);
  try {
    const t = await requireTenant(db, slug);
    requireLive(t, "remove");
    const { getTenantDomain, deleteTenantDomain } = await import("../../state/tenant-domains.js");
    const { startStep, finishStep, failStep, lastStep } = await import("../../state/operations.js");
    const found = await getTenantDomain(db, hostname);
    let row: Pick<TenantDomainRow, "webhook">;
    let op: { id: number };
    if (found && found.tenantSlug === slug) {
      row = found;
      op = await startStep(db, { kind: DOMAIN_KIND, step: "remove", tenantId: t.id, details: { hostname, webhook: found.webhook } });
      await deleteTenantDomain(db, t.id, hostname);
    } else {
      // a remove that was killed (or failed) after its row went: finish it
      const last = await lastStep(db, t.id, DOMAIN_KIND, "remove");
      if (!last || last.status === "done" || last.details.hostname !== hostname) {
        throw new ConflictError(`${hostname} is not a domain of tenant ${slug}`, { code: "domain-not-found", hint: `\`btw tenant domain list ${slug}\`` });
      }
      step(`finishing the interrupted removal of ${hostname}`);
      row = { webhook: last.details.webhook === true };
      op = last;
    }
    try {
      // WEBHOOK_URL back to <tenant>.<domain> before the route goes: n8n never advertises a dead URL
      const webhookUrl = row.webhook ? await applyWebhook(ctx, db, t, step) : null;
      const routed = await reroute(ctx, db, t, step);
      await finishStep(db, op.id);
      await ctx.audit("tenant.domain.remove", slug, { hostname, webhook: row.webhook, edgeProxies: routed.edgeProxies });
      return { tenant: slug, hostname, webhook: row.webhook, dns: null, ...routed, webhookUrl, already: false };
    } catch (e) {
      await failStep(db, op.id, (e as Error).message.split("\n")[0]!.slice(0, 500)).catch(() => {});
      failed(e, slug, hostname, "remove");
    }
  } finally {
    await lock.release();
  }
}
