import type { Ctx } from "../cli/context.js";
import type { Plan } from "../config/schema.js";
import { NotFoundError, OperationError, UsageError } from "../errors.js";
import type { Db } from "../state/db.js";
import type { ServerRow } from "../state/servers.js";
import type { TenantImages, TenantRow } from "../state/tenants.js";
import { renderTenantEnv, type ScratchMarks } from "../core/tenant/env.js";
import { tenantLayout } from "../core/tenant/layout.js";
import { asset } from "./assets.js";
import { Host } from "./host.js";
import { GENERATED } from "./tenant-secrets.js";

// What every tenant verb needs: its row, its server, a connection to that server.

export function requirePlan(ctx: Ctx, name: string): Plan {
  const plan = ctx.config.plans[name];
  if (!plan) {
    throw new UsageError(`unknown plan '${name}'`, { code: "unknown-plan", hint: `plans: ${Object.keys(ctx.config.plans).join(", ")}` });
  }
  return plan;
}

export async function requireTenant(db: Db, slug: string): Promise<TenantRow> {
  const { getTenant } = await import("../state/tenants.js");
  const t = await getTenant(db, slug);
  if (!t) throw new NotFoundError("tenant", slug, { hint: "`btw tenant list` shows the tenants" });
  return t;
}

export async function tenantServer(db: Db, tenant: TenantRow): Promise<ServerRow> {
  const { getServer } = await import("../state/servers.js");
  const s = tenant.serverId === null ? null : await getServer(db, tenant.serverId);
  if (!s) throw new NotFoundError("server of tenant", tenant.slug);
  return s;
}

export async function hostFor(ctx: Ctx, server: ServerRow): Promise<Host> {
  const { sshFor } = await import("./server/context.js");
  return new Host(server.name, await sshFor(ctx, server));
}

/**
 * One advisory lock per tenant: a second writer exits 75 at once, naming the holder.
 * Backups take it shared (several at once, and `backup all` beside `backup tenant`);
 * every mutation (restore, migrate, set-plan, delete, upgrade…) takes it exclusive.
 */
export async function lockTenant(db: Db, slug: string, opts: { shared?: boolean } = {}) {
  return db.lock({ kind: "tenant", name: slug }, { timeoutMs: 0, ...(opts.shared ? { shared: true } : {}) });
}

/**
 * The images a tenant runs: its row's (versions are state). `images.*` in btw.yml is only the
 * version for new tenants and the default upgrade target — except for a row older than the
 * versions migration, which takes them once (and the caller records them).
 */
export function imagesOf(ctx: Ctx, t: Pick<TenantRow, "slug" | "n8nImage" | "postgresImage" | "redisImage"> & { pgdataVolume?: string | null }): Required<TenantImages> {
  return {
    n8n: t.n8nImage ?? ctx.config.images.n8n,
    postgres: t.postgresImage ?? ctx.config.images.postgres,
    redis: t.redisImage ?? ctx.config.images.redis,
    // the volume goes with the Postgres image: every .env rewrite keeps the one it opens
    pgdataVolume: t.pgdataVolume ?? tenantLayout(t.slug).volumes.pgdata,
  };
}

/** Records the images on a row that predates the versions migration (no-op otherwise). */
export async function adoptImages(ctx: Ctx, db: Db, t: TenantRow): Promise<Required<TenantImages>> {
  const images = imagesOf(ctx, t);
  if (!t.n8nImage || !t.postgresImage || !t.redisImage || !t.pgdataVolume) {
    const { setTenantImages } = await import("../state/tenants.js");
    await setTenantImages(db, t.id, images);
  }
  return images;
}

/** The tenant's .env, labelled with this state's identity (ctx.stateId); `scratch` marks a scratch stack. */
/** The tenant's .env: always with the images given (the tenant's own: versions are state). */
/**
 * Writes a tenant's two files, always together: its .env, then the compose file (the same for
 * every tenant: this btw's template). Together, so the keys the template asks for are in the
 * .env beside it, and a stack deployed by an older btw takes the current template (its own
 * task runner, issue 24) at its next operation. The .env first: a kill between the two leaves
 * the older template with a newer .env, which still starts (extra keys are ignored).
 */
export async function writeTenantFiles(host: Pick<Host, "writeFile">, slug: string, env: string): Promise<void> {
  const layout = tenantLayout(slug);
  await host.writeFile(layout.envFile, env, "0600");
  await host.writeFile(layout.composeFile, asset("templates/tenant/compose.yml"));
}

export function envFor(
  ctx: Ctx,
  p: { slug: string; plan: Plan; timezone: string; subnet: string; images: TenantImages; scratch?: ScratchMarks; webhookHost?: string | null },
  secrets: Map<string, string>,
): string {
  const need = (k: string) => {
    const v = secrets.get(k);
    if (!v) throw new OperationError(`secret ${k} of ${p.slug} is missing from the state`, { code: "secret-missing" });
    return v;
  };
  return renderTenantEnv({
    slug: p.slug,
    domain: ctx.config.domain,
    plan: p.plan,
    images: p.images,
    ...(p.images.pgdataVolume ? { pgdataVolume: p.images.pgdataVolume } : {}),
    timezone: p.timezone,
    // GDPR: the plan's execution retention (the seed: 90 days)
    pruning: { maxAgeHours: p.plan.executionRetentionDays * 24, maxCount: p.plan.executionRetentionCount },
    subnet: p.subnet,
    tls: ctx.config.proxy.tls,
    stateId: ctx.stateId,
    ...(p.scratch ? { scratch: p.scratch } : {}),
    // a custom domain chosen for webhooks (state: tenant_domains), kept by every .env rewrite
    ...(p.webhookHost ? { webhookHost: p.webhookHost } : {}),
    secrets: { postgresPassword: need(GENERATED.postgresPassword), redisPassword: need(GENERATED.redisPassword), encryptionKey: need(GENERATED.encryptionKey) },
  });
}
