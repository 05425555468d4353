import { randomBytes } from "node:crypto";
import type { Ctx } from "../../cli/context.js";
import { composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { alterRolePasswordSql, dockerPsqlStdin, scramVerifier } from "../../core/tenant/scram.js";
import { ROTATED_SECRETS, ageDays, pendingName, rotationDue } from "../../core/tenant/secret-rotation.js";
import { generateTenantSecrets } from "../../core/tenant/secrets.js";
import { TENANT_DB_NAME, tenantLayout } from "../../core/tenant/layout.js";
import { ConflictError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import { deleteTenantSecretsNamed, listSecretAges } from "../../state/tenant-secrets.js";
import type { BackupManifest } from "../../core/backup/manifest.js";
import type { N8nClient } from "../../remote/n8n.js";
import type { MasterKey } from "../../secrets/master-key.js";
import type { Host } from "../host.js";
import { API_KEY_LABEL, ownerEmail } from "../n8n-bootstrap.js";
import { envFor } from "../tenant-create.js";
import { adoptImages, hostFor, lockTenant, requirePlan, requireTenant, tenantServer } from "../tenant-context.js";
import { GENERATED, N8N_API_KEY, readAllSecrets, storeSecrets } from "../tenant-secrets.js";
import { webhookHostOf } from "../../state/tenant-domains.js";

// `btw tenant secrets rotate`: new Postgres and Redis passwords and a new n8n API key for a
// live tenant, its data untouched. Under the tenant's lock (no backup or other mutation runs
// meanwhile), in an order where a crash at any step is finished by a re-run:
//   1. the new passwords are sealed into the state as *_NEXT (a re-run reuses them);
//   2. ALTER ROLE with a SCRAM verifier computed here (psql reads it on stdin): sessions
//      already open stay; n8n's Postgres credential (used by WF1–3) is updated through the API
//      right after, so workflows keep reaching the database;
//   3. the .env is rewritten and the stack recreated (`compose up --wait`: only the services
//      whose environment changed; n8n stops gracefully, volumes are kept), then health;
//   4. the new values replace the old ones in the state (their age restarts), *_NEXT go;
//   5. a new API key replaces the old one in n8n and in the state.
// N8N_ENCRYPTION_KEY is not rotated here: n8n encrypts every stored credential with it.

export interface RotateOutcome {
  tenant: string;
  rotated: string[];
  resumed: boolean;
}

export async function rotateTenantSecrets(ctx: Ctx, db: Db, slug: string, step: (s: string) => void = () => {}): Promise<RotateOutcome> {
  const lock = await lockTenant(db, slug);
  try {
    const t = await requireTenant(db, slug);
    if (t.status !== "active") {
      throw new ConflictError(`cannot rotate the secrets of tenant '${slug}': it is ${t.status}`, { code: "tenant-wrong-status", hint: "rotation needs the running stack: `btw tenant resume` first" });
    }
    const master = await ctx.master();
    const plan = requirePlan(ctx, t.plan);
    const server = await tenantServer(db, t);
    const host = await hostFor(ctx, server);
    const layout = tenantLayout(slug);
    let secrets = await readAllSecrets(db, master, t.id);
    const PG = GENERATED.postgresPassword;
    const REDIS = GENERATED.redisPassword;
    const resumed = secrets.has(pendingName(PG)) && secrets.has(pendingName(REDIS));
    if (!resumed) {
      step("new passwords sealed into the state");
      const fresh = generateTenantSecrets((n) => randomBytes(n));
      await storeSecrets(db, master, t.id, { [pendingName(PG)]: fresh.postgresPassword, [pendingName(REDIS)]: fresh.redisPassword });
      secrets = await readAllSecrets(db, master, t.id);
    }
    const next = new Map(secrets);
    next.set(PG, secrets.get(pendingName(PG))!);
    next.set(REDIS, secrets.get(pendingName(REDIS))!);

    step("database role: new password (SCRAM verifier on psql's stdin)");
    await host.run(dockerPsqlStdin(layout.containers.postgres, TENANT_DB_NAME), { input: alterRolePasswordSql(scramVerifier(next.get(PG)!, randomBytes(16))) });
    step("n8n: the Postgres credential gets the new password");
    await withN8n(host, t.slug, secrets.get(N8N_API_KEY), (client) => syncPostgresCredential(client, next));

    step(".env rewritten, stack recreated");
    const images = await adoptImages(ctx, db, t);
    const webhookHost = await webhookHostOf(db, t.id);
    await host.writeFile(layout.envFile, envFor(ctx, { slug, plan, timezone: t.timezone, subnet: t.subnet!, images, webhookHost }, next), "0600");
    await host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });

    step("state: the new passwords are current");
    await db.transaction(async (tx) => {
      await storeSecrets(tx, master, t.id, { [PG]: next.get(PG)!, [REDIS]: next.get(REDIS)! });
      await deleteTenantSecretsNamed(tx, t.id, [pendingName(PG), pendingName(REDIS)]);
    });

    step("n8n: a new API key replaces the old one");
    await withN8n(host, slug, undefined, async (client) => {
      await client.setupOwner({ email: ownerEmail(slug, ctx.config.domain), firstName: "btw", lastName: slug, password: next.get(GENERATED.ownerPassword)! });
      const raw = await client.createApiKey(API_KEY_LABEL, { replaceExisting: true });
      await storeSecrets(db, master, t.id, { [N8N_API_KEY]: raw });
      await client.withApiKey(raw).listWorkflows();
    });
    const rotated = [...ROTATED_SECRETS];
    await ctx.audit("tenant.secrets.rotate", slug, { names: rotated, resumed });
    return { tenant: slug, rotated, resumed };
  } finally {
    await lock.release();
  }
}

async function withN8n<T>(host: Host, slug: string, apiKey: string | undefined, fn: (client: N8nClient) => Promise<T>): Promise<T> {
  const { openN8nTunnel } = await import("../n8n-tunnel.js");
  const tunnel = await openN8nTunnel(host, slug);
  try {
    const { N8nClient } = await import("../../remote/n8n.js");
    const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of tenant '${slug}'`, ...(apiKey ? { apiKey } : {}) });
    await client.waitReady(180_000);
    return await fn(client);
  } finally {
    await tunnel.close();
  }
}

/** n8n's Postgres credential (WF1–3 use it) set to the tenant's current database password. */
async function syncPostgresCredential(client: N8nClient, secrets: Map<string, string>): Promise<void> {
  const { syncCredentials } = await import("../workflows-deploy.js");
  const { loadWorkflowSource } = await import("../workflows-source.js");
  const manifest = loadWorkflowSource().manifest;
  await syncCredentials(client, { ...manifest, credentials: manifest.credentials.filter((c) => c.type === "postgres") }, secrets);
}

/**
 * After a restore in place of a backup older than a secrets rotation: the restored n8n's
 * Postgres credential holds the password of the backup's time, but the database role keeps
 * the current one (roles are not in the dump). Re-point the credential; a no-op otherwise.
 */
export async function repointRestoredCredential(host: Host, slug: string, master: MasterKey, manifest: BackupManifest, current: Map<string, string>): Promise<boolean> {
  const { openEscrow } = await import("../restore.js");
  const escrowed = openEscrow(master, manifest).get(GENERATED.postgresPassword);
  if (escrowed === undefined || escrowed === current.get(GENERATED.postgresPassword)) return false;
  await withN8n(host, slug, current.get(N8N_API_KEY), (client) => syncPostgresCredential(client, current));
  return true;
}

export interface SecretAge {
  name: string;
  ageDays: number;
}

/** Active tenants whose rotated secrets are `days` old or older. */
export async function dueTenants(db: Db, days: number, now = new Date()): Promise<Array<{ tenant: string; ages: SecretAge[] }>> {
  const { listTenants } = await import("../../state/tenants.js");
  const out: Array<{ tenant: string; ages: SecretAge[] }> = [];
  for (const t of await listTenants(db, { status: "active" })) {
    const ages = await listSecretAges(db, t.id);
    if (rotationDue(ages, now, days)) {
      out.push({ tenant: t.slug, ages: ages.filter((a) => (ROTATED_SECRETS as readonly string[]).includes(a.name)).map((a) => ({ name: a.name, ageDays: ageDays(a.valueSetAt, now) })) });
    }
  }
  return out;
}
