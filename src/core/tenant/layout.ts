// Every name a tenant has on its server, in one place: directory, files, Compose project,
// networks, volumes, containers, the proxy's upstream alias. templates/tenant/compose.yml
// builds the same names from ${TENANT}; test/unit/tenant/compose-template.test.ts checks
// that the two agree.

import { UsageError } from "../../errors.js";
import { TENANT_NAME, nameProblem } from "../names.js";

export const TENANTS_ROOT = "/opt/btw/tenants";

/** Fixed database role and name inside each tenant's own Postgres (backups need them). */
export const TENANT_DB_USER = "n8n";
export const TENANT_DB_NAME = "n8n";

/** n8n's HTTP port inside the container (the proxy and the SSH tunnel dial it). */
export const N8N_PORT = 5678;

export const TENANT_SERVICES = ["postgres", "redis", "n8n", "worker", "runner", "worker-runner"] as const;
export type TenantService = (typeof TENANT_SERVICES)[number];

/** Compose profiles the tenant file defines; `queue` adds the worker and its runner. */
export const TENANT_PROFILES = ["queue"] as const;
export type TenantProfile = (typeof TENANT_PROFILES)[number];

/** The label put on every container, network and volume of a tenant (value: the slug). */
export const TENANT_LABEL = "btw.tenant";

export interface TenantLayout {
  slug: string;
  dir: string;
  composeFile: string;
  envFile: string;
  /** Compose project name (`-p`) */
  project: string;
  networks: { internal: string; edge: string };
  volumes: { pgdata: string; n8ndata: string; redisdata: string };
  containers: Record<TenantService, string>;
  /** n8n's DNS name on the edge network, the proxy's upstream host */
  edgeAlias: string;
}

/** Throws UsageError unless `slug` is a valid tenant name: it becomes paths and names. */
export function requireTenantSlug(slug: string): string {
  const problem = nameProblem(slug, { ...TENANT_NAME, reserved: undefined });
  if (problem !== null) throw new UsageError(problem, { code: "invalid-tenant-name" });
  return slug;
}

export function tenantLayout(slug: string): TenantLayout {
  requireTenantSlug(slug);
  const dir = `${TENANTS_ROOT}/${slug}`;
  const prefix = `btw-${slug}`;
  return {
    slug,
    dir,
    composeFile: `${dir}/compose.yml`,
    envFile: `${dir}/.env`,
    project: prefix,
    networks: { internal: `${prefix}-internal`, edge: `${prefix}-edge` },
    volumes: { pgdata: `${prefix}-pgdata`, n8ndata: `${prefix}-n8ndata`, redisdata: `${prefix}-redisdata` },
    containers: {
      postgres: `${prefix}-postgres`,
      redis: `${prefix}-redis`,
      n8n: `${prefix}-n8n`,
      worker: `${prefix}-worker`,
      runner: `${prefix}-runner`,
      "worker-runner": `${prefix}-worker-runner`,
    },
    edgeAlias: `n8n-${slug}`,
  };
}

/**
 * The data volume a Postgres major upgrade restores into: `btw-<slug>-pgdata-pg<major>`. The
 * first one is the layout's `btw-<slug>-pgdata`; no other tenant's layout name has this shape.
 */
export function pgdataVolumeFor(slug: string, major: string): string {
  if (!/^\d{1,3}$/.test(major)) throw new UsageError(`invalid Postgres major '${major}'`, { code: "invalid-postgres-major" });
  return `${tenantLayout(slug).volumes.pgdata}-pg${major}`;
}

/** Is `name` one of the tenant's Postgres data volumes (the first, or one an upgrade made)? */
export function isPgdataVolumeOf(slug: string, name: string): boolean {
  const first = tenantLayout(slug).volumes.pgdata;
  return name === first || (name.startsWith(`${first}-pg`) && /^\d{1,3}$/.test(name.slice(first.length + 3)));
}

/** The public host of a tenant: `<slug>.<domain>`. */
export function tenantHost(slug: string, domain: string): string {
  return `${requireTenantSlug(slug)}.${domain}`;
}

/** The address of a tenant's n8n owner account (the tenant's own name at the fleet domain). */
export function ownerEmail(slug: string, domain: string): string {
  return `owner@${slug}.${domain}`;
}
