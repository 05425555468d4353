import { randomBytes } from "node:crypto";
import type { Ctx } from "../../cli/context.js";
import { composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { alterRolePasswordSql, dockerPsqlStdin, scramVerifier } from "../../core/tenant/scram.js";
import {
  NEEDS_N8N,
  ROTATED_SECRETS,
  ROTATION_STEP_TITLES,
  ageDays,
  keysToRevoke,
  pendingName,
  resumeRotation,
  rotationDue,
  rotationKeyLabel,
  type RotationStep,
} from "../../core/tenant/secret-rotation.js";
import { generateTenantSecrets } from "../../core/tenant/secrets.js";
import { TENANT_DB_NAME, tenantLayout, ownerEmail } from "../../core/tenant/layout.js";
import { ConflictError, OperationError } from "../../errors.js";
import type { Db, Queryable } from "../../state/db.js";
import type { OperationRow } from "../../state/operations.js";
import { deleteTenantSecretsNamed, listSecretAges } from "../../state/tenant-secrets.js";
import type { BackupManifest } from "../../core/backup/manifest.js";
import type { N8nClient } from "../../remote/n8n.js";
import type { MasterKey } from "../../secrets/master-key.js";
import type { Host } from "../host.js";
import { API_KEY_LABEL } from "../n8n-bootstrap.js";
import { adoptImages, hostFor, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../tenant-context.js";
import { GENERATED, N8N_API_KEY, readAllSecrets, storeSecrets } from "../tenant-secrets.js";
import { webhookHostOf } from "../../state/tenant-domains.js";

// `btw tenant secrets rotate`: new Postgres and Redis passwords and a new n8n API key for a
// live tenant, its data untouched, under the tenant's lock (no backup or other mutation runs
// meanwhile). The order, what a kill after each step leaves and why a re-run converges are in
// core/tenant/secret-rotation.ts (ROTATION_ORDERS, resumeRotation); this file runs it. The
// journal is one operations row (kind tenant.secrets.rotate) whose details.done names the
// last step done; it stays `running` until the rotation finished, whatever failed meanwhile.
// N8N_ENCRYPTION_KEY is not rotated here: n8n encrypts every stored credential with it.

export const ROTATE_KIND = "tenant.secrets.rotate";
const ROTATE_STEP = "rotate";
const PG = GENERATED.postgresPassword;
const REDIS = GENERATED.redisPassword;
const KEY_NEXT = pendingName(N8N_API_KEY);

export interface RotateOutcome {
  tenant: string;
  rotated: string[];
  resumed: boolean;
}

async function unfinishedRotation(db: Queryable, tenantId: number): Promise<OperationRow | null> {
  const { lastStep } = await import("../../state/operations.js");
  const op = await lastStep(db, tenantId, ROTATE_KIND, ROTATE_STEP);
  return op && op.status === "running" ? op : null;
}

export async function rotateTenantSecrets(ctx: Ctx, db: Db, slug: string, step: (s: string) => void = () => {}): Promise<RotateOutcome> {
  const lock = await lockTenant(db, slug);
  let n8n: OwnerSession | null = null;
  try {
    const t = await requireTenant(db, slug);
    if (t.status !== "active") {
      throw new ConflictError(`cannot rotate the secrets of tenant '${slug}': it is ${t.status}`, { code: "tenant-wrong-status", hint: "rotation needs the running stack: `btw tenant resume` first" });
    }
    const ops = await import("../../state/operations.js");
    const master = await ctx.master();
    const plan = requirePlan(ctx, t.plan);
    const server = await tenantServer(db, t);
    const host = await hostFor(ctx, server);
    const layout = tenantLayout(slug);
    let secrets = await readAllSecrets(db, master, t.id);
    let op = await unfinishedRotation(db, t.id);
    const resume = resumeRotation({
      journal: op ? { order: op.details.order, done: op.details.done } : null,
      passwordsPending: secrets.has(pendingName(PG)) && secrets.has(pendingName(REDIS)),
    });
    const start = (q: Queryable, order: string) => ops.startStep(q, { kind: ROTATE_KIND, step: ROTATE_STEP, tenantId: t.id, serverId: server.id, details: { order, done: "seal" } });
    if (resume.startJournal) op = await start(db, resume.order);
    if (resume.resumed) step(`resuming the interrupted rotation${resume.order === "legacy" ? " of an older btw" : ""} (${resume.steps.join(" → ")})`);
    const journal = (q: Queryable, done: RotationStep) => ops.updateStepDetails(q, op!.id, { done });
    // the live stack's passwords once `recreate` ran: the *_NEXT ones until `promote`
    const live = () => {
      const m = new Map(secrets);
      if (secrets.has(pendingName(PG))) m.set(PG, secrets.get(pendingName(PG))!);
      if (secrets.has(pendingName(REDIS))) m.set(REDIS, secrets.get(pendingName(REDIS))!);
      return m;
    };
    const owner = { email: ownerEmail(slug, ctx.config.domain), password: secrets.get(GENERATED.ownerPassword)! };
    let current: RotationStep = "seal";
    const client = async () => {
      // NEEDS_N8N is the order's promise that n8n is reached only while it has its database
      if (!NEEDS_N8N.has(current)) throw new Error(`rotation step ${current} may not call n8n`);
      return (n8n ??= await openOwnerSession(host, slug, owner)).client;
    };
    const keyLabel = () => rotationKeyLabel(API_KEY_LABEL, op!.id);
    const reread = async () => (secrets = await readAllSecrets(db, master, t.id));

    const run: Record<RotationStep, () => Promise<void>> = {
      seal: async () => {
        const fresh = generateTenantSecrets((n) => randomBytes(n));
        await lock.check();
        await db.transaction(async (tx) => {
          await storeSecrets(tx, master, t.id, { [pendingName(PG)]: fresh.postgresPassword, [pendingName(REDIS)]: fresh.redisPassword });
          op = await start(tx, "standard");
        });
        await reread();
      },
      credential: async () => {
        await syncPostgresCredentialAsOwner(await client(), live());
        await journal(db, "credential");
      },
      role: async () => {
        await host.run(dockerPsqlStdin(layout.containers.postgres, TENANT_DB_NAME), { input: alterRolePasswordSql(scramVerifier(live().get(PG)!, randomBytes(16))) });
        await journal(db, "role");
      },
      recreate: async () => {
        // n8n is recreated: its tunnel goes with the old container
        await n8n?.close();
        n8n = null;
        const images = await adoptImages(ctx, db, t);
        const webhookHost = await webhookHostOf(db, t.id);
        await writeTenantFiles(host, slug, envFor(ctx, { slug, plan, timezone: t.timezone, subnet: t.subnet!, images, webhookHost }, live()));
        await host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: 300 }), { timeoutMs: 330_000 });
        await journal(db, "recreate");
      },
      promote: async () => {
        const now = live();
        await lock.check();
        await db.transaction(async (tx) => {
          await storeSecrets(tx, master, t.id, { [PG]: now.get(PG)!, [REDIS]: now.get(REDIS)! });
          await deleteTenantSecretsNamed(tx, t.id, [pendingName(PG), pendingName(REDIS)]);
          await journal(tx, "promote");
        });
        await reread();
      },
      "key-create": async () => {
        const c = await client();
        // a key this step made before a kill, never sealed: nobody holds it
        for (const k of await c.listApiKeys()) if (k.label === keyLabel()) await c.deleteApiKey(k.id);
        const raw = await c.createApiKey(keyLabel());
        await lock.check();
        await db.transaction(async (tx) => {
          await storeSecrets(tx, master, t.id, { [KEY_NEXT]: raw });
          await journal(tx, "key-create");
        });
        await reread();
      },
      "key-promote": async () => {
        // the new key works before it becomes the one btw uses; one lost since key-create
        // (dropped from the state, or n8n's database restored in between) is made again
        let next = secrets.get(KEY_NEXT);
        if (next === undefined || !(await keyWorks(await client(), next))) {
          await run["key-create"]();
          next = secrets.get(KEY_NEXT)!;
          if (!(await keyWorks(await client(), next))) throw new OperationError(`n8n of tenant '${slug}' refuses the API key it just made`, { code: "n8n-unauthorized" });
        }
        await lock.check();
        await db.transaction(async (tx) => {
          await storeSecrets(tx, master, t.id, { [N8N_API_KEY]: next });
          await journal(tx, "key-promote");
        });
        await reread();
      },
      "key-revoke": async () => {
        const c = await client();
        for (const k of keysToRevoke(await c.listApiKeys(), API_KEY_LABEL, keyLabel())) await c.deleteApiKey(k.id);
        await journal(db, "key-revoke");
      },
      finish: async () => {
        await lock.check();
        await db.transaction(async (tx) => {
          await deleteTenantSecretsNamed(tx, t.id, [KEY_NEXT]);
          await ops.finishStep(tx, op!.id, { done: "finish" });
        });
      },
    };
    for (const s of resume.steps) {
      current = s;
      step(ROTATION_STEP_TITLES[s]);
      await run[s]();
    }
    const rotated = [...ROTATED_SECRETS];
    await ctx.audit("tenant.secrets.rotate", slug, { names: rotated, resumed: resume.resumed });
    return { tenant: slug, rotated, resumed: resume.resumed };
  } finally {
    await (n8n as OwnerSession | null)?.close();
    await lock.release();
  }
}

/** Whether n8n's public API takes this key (401: it does not; any other failure is thrown). */
async function keyWorks(client: N8nClient, apiKey: string): Promise<boolean> {
  try {
    await client.withApiKey(apiKey).listWorkflows();
    return true;
  } catch (e) {
    if (e instanceof OperationError && e.code === "n8n-unauthorized") return false;
    throw e;
  }
}

interface OwnerSession {
  client: N8nClient;
  close(): Promise<void>;
}

/**
 * The tenant's n8n through a tunnel, ready, with the owner logged in (the stored owner
 * password): what rotation and restore use instead of the API key.
 */
async function openOwnerSession(host: Host, slug: string, owner: { email: string; password: string }): Promise<OwnerSession> {
  const { openN8nTunnel } = await import("../n8n-tunnel.js");
  const tunnel = await openN8nTunnel(host, slug);
  try {
    const { N8nClient } = await import("../../remote/n8n.js");
    const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of tenant '${slug}'` }).withOwnerLogin(owner.email, owner.password);
    await client.waitReady(180_000);
    await client.ensureSession();
    return { client, close: () => tunnel.close() };
  } catch (e) {
    await tunnel.close();
    throw e;
  }
}

/**
 * n8n's Postgres credential (WF1–3 use it) set to the password in `secrets`, through the
 * internal API as the owner: on every 2.x (the public API lists credentials only since 2.8)
 * and whatever the state's API key is.
 */
async function syncPostgresCredentialAsOwner(client: N8nClient, secrets: Map<string, string>): Promise<void> {
  const { credentialData } = await import("../workflows/deploy.js");
  const { loadWorkflowSource } = await import("../workflows/source.js");
  const all = await client.listCredentialsAsOwner();
  for (const c of loadWorkflowSource().manifest.credentials.filter((x) => x.type === "postgres")) {
    const input = { name: c.name, type: c.type, data: credentialData(c.name, c.type, secrets) };
    const existing = client.pickCredential(all, c.name, c.type);
    if (existing) await client.updateCredentialAsOwner(existing.id, input);
    else await client.createCredentialAsOwner(input);
  }
}

/**
 * After a restore in place of a backup older than a secrets rotation: the restored n8n's
 * Postgres credential holds the password of the backup's time, but the database role keeps
 * the current one (roles are not in the dump). Re-point the credential, as the owner (the
 * escrowed owner password is the restored n8n's); a no-op otherwise.
 */
export async function repointRestoredCredential(host: Host, slug: string, master: MasterKey, manifest: BackupManifest, current: Map<string, string>, ownerLogin: string): Promise<boolean> {
  const { openEscrow } = await import("../backup/restore-data.js");
  const escrowed = openEscrow(master, manifest).get(GENERATED.postgresPassword);
  if (escrowed === undefined || escrowed === current.get(GENERATED.postgresPassword)) return false;
  const session = await openOwnerSession(host, slug, { email: ownerLogin, password: current.get(GENERATED.ownerPassword)! });
  try {
    await syncPostgresCredentialAsOwner(session.client, current);
  } finally {
    await session.close();
  }
  return true;
}

export interface SecretAge {
  name: string;
  ageDays: number;
}

/** Active tenants whose rotated secrets are `days` old or older, or whose last rotation did not finish. */
export async function dueTenants(db: Db, days: number, now = new Date()): Promise<Array<{ tenant: string; ages: SecretAge[] }>> {
  const { listTenants } = await import("../../state/tenants.js");
  const out: Array<{ tenant: string; ages: SecretAge[] }> = [];
  for (const t of await listTenants(db, { status: "active" })) {
    const ages = await listSecretAges(db, t.id);
    if (rotationDue(ages, now, days) || (await unfinishedRotation(db, t.id))) {
      out.push({ tenant: t.slug, ages: ages.filter((a) => (ROTATED_SECRETS as readonly string[]).includes(a.name)).map((a) => ({ name: a.name, ageDays: ageDays(a.valueSetAt, now) })) });
    }
  }
  return out;
}
