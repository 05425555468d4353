import type { Ctx } from "../../cli/context.js";
import { composeStop, composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { ownerEmail } from "../../core/tenant/layout.js";
import { N8N_STEP_TITLES, n8nResumePhase, runN8nUpgrade, type N8nPhase, type N8nStep } from "../../core/upgrade/n8n.js";
import { versionOf } from "../../core/upgrade/plan.js";
import { ConflictError, LockLostError, OperationError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { Db, Lock } from "../../state/db.js";
import type { OperationRow } from "../../state/operations.js";
import type { TenantRow, TenantStatus } from "../../state/tenants.js";
import { backupTenant, openServerSession, type ServerSession } from "../backup/tenant.js";
import { openN8nTunnel } from "../n8n-tunnel.js";
import { syncRoutes } from "../proxy.js";
import { restoreData } from "../backup/restore-data.js";
import { adoptImages, lockTenant, requirePlan, requireTenant, tenantServer, envFor, writeTenantFiles } from "../tenant-context.js";
import { GENERATED, N8N_API_KEY, readAllSecrets } from "../tenant-secrets.js";
import { webhookHostOf } from "../../state/tenant-domains.js";

// One tenant's n8n upgrade, under its lock, journaled (operations, kind tenant.upgrade), in
// the order core/upgrade/n8n.ts gives (N8N_UPGRADE_PHASES), phase by phase:
//   prepared  the published workflows noted, the new image pulled — the tenant serves
//   pulled    `upgrading` (maintenance page, skipped by backups), n8n and its worker stopped,
//             a backup of the quiet tenant (recorded done, reason pre-upgrade)
//   quiesced  n8n (and the worker) recreated on the new image → readiness (/healthz/readiness
//             waits for the migrations) → the workflows still published as before, every
//             credential decrypts, a smoke execution succeeds → the new image recorded, the
//             status from before back
// The backup comes after the stop so that a rollback loses nothing: what the tenant wrote
// while the image was pulled is in it. n8n only migrates forward: on any failure once the
// backup is recorded, it is restored with the old image (automatic rollback); a failure
// before it starts n8n again on its image (its data was never touched). Killed at any point,
// the same command resumes the journal: it finishes, or finishes the rollback it had started.

export const UPGRADE_KIND = "tenant.upgrade";

interface UpgradeDetails {
  from: string;
  to: string;
  priorStatus: TenantStatus;
  backup?: string;
  /** as journaled; journals older than this order may say "backed-up" or "recreated" (n8nResumePhase) */
  phase: string;
  /** active workflows before (ids), compared after */
  published?: string[];
  /** the server's prepared database for the new image, asked for at the pull */
  prepared?: "ready" | "building" | "off" | "failed";
}

export interface TenantUpgradeResult {
  tenant: string;
  server: string;
  from: string;
  to: string;
  ok: boolean;
  /** unchanged: it already ran the target */
  outcome: "upgraded" | "unchanged" | "rolled-back" | "failed";
  backup: string | null;
  error?: string;
  /** seconds per step (inspect, pull, maintenance, stop, backup, recreate, checks, record), and restart or rollback */
  timings: Record<string, number>;
  seconds: number;
}

export interface UpgradeOptions {
  /** readiness deadline after the recreate (the migrations run in it) */
  readyTimeoutSec: number;
  step: (s: string) => void;
}

async function unfinished(db: Db, tenantId: number): Promise<(OperationRow & { details: UpgradeDetails }) | null> {
  const { lastStep } = await import("../../state/operations.js");
  const op = await lastStep(db, tenantId, UPGRADE_KIND, "n8n");
  return op && op.status === "running" ? (op as unknown as OperationRow & { details: UpgradeDetails }) : null;
}

/** Upgrades one tenant's n8n to `target` (an image); never throws for the tenant's own failure: the result says. */
export async function upgradeTenantN8n(ctx: Ctx, db: Db, storage: BackupStorage, slug: string, target: string, o: UpgradeOptions): Promise<TenantUpgradeResult> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round((Date.now() - s) / 100) / 10;
    }
  };
  const lock = await lockTenant(db, slug);
  let server = "?";
  let from = "?";
  let backup: string | null = null;
  try {
    const tenant = await requireTenant(db, slug);
    const srv = await tenantServer(db, tenant);
    server = srv.name;
    const { startStep, finishStep, failStep, updateStepDetails } = await import("../../state/operations.js");
    let op = await unfinished(db, tenant.id);
    const images = await adoptImages(ctx, db, tenant);
    const webhookHost = await webhookHostOf(db, tenant.id);
    from = op?.details.from ?? images.n8n;
    if (!op && images.n8n === target) {
      return { tenant: slug, server, from, to: target, ok: true, outcome: "unchanged", backup: null, timings, seconds: (Date.now() - t0) / 1000 };
    }
    if (op && op.details.to !== target) {
      throw new ConflictError(`${slug}'s upgrade to ${op.details.to} did not finish`, { code: "upgrade-unfinished", hint: `finish it first: \`btw upgrade n8n --tenant ${slug} --to ${versionOf(op.details.to)}\`` });
    }
    if (!op && tenant.status !== "active" && tenant.status !== "suspended") {
      throw new ConflictError(`cannot upgrade ${slug}: it is ${tenant.status}`, { code: "tenant-wrong-status" });
    }
    const session = await openServerSession(ctx, srv);
    if (!op) {
      const details: UpgradeDetails = { from, to: target, priorStatus: tenant.status, phase: "prepared" };
      op = { ...(await startStep(db, { kind: UPGRADE_KIND, step: "n8n", tenantId: tenant.id, serverId: srv.id, details: { ...details } })), details } as OperationRow & { details: UpgradeDetails };
    } else {
      o.step(`${slug}: resuming the interrupted upgrade (at ${op.details.phase})`);
    }
    const d = op.details;
    backup = d.backup ?? null;
    let current: N8nPhase = n8nResumePhase(d.phase);
    // what a phase's steps found, journaled with the next phase
    let found: Partial<UpgradeDetails> = {};
    const reached = async (p: N8nPhase) => {
      await lock.check();
      const extra = found;
      found = {};
      Object.assign(d, extra, { phase: p });
      await updateStepDetails(db, op!.id, { ...extra, phase: p });
      current = p;
    };
    const plan = requirePlan(ctx, tenant.plan);
    const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
    const { updateTenantStatus, setTenantImages } = await import("../../state/tenants.js");
    const writeEnv = (n8n: string) => writeTenantFiles(session.host, slug, envFor(ctx, { slug, plan, timezone: tenant.timezone, subnet: tenant.subnet!, images: { ...images, n8n }, webhookHost }, secrets));
    const steps: Record<N8nStep, () => Promise<unknown>> = {
      inspect: async () => {
        found.published = d.priorStatus === "active" ? await publishedWorkflows(session, slug, secrets.get(N8N_API_KEY)) : [];
      },
      pull: () => pull(session, target),
      maintenance: async () => {
        await updateTenantStatus(db, tenant.id, "upgrading");
        await syncRoutes(session.host, db, ctx, srv);
      },
      stop: () => session.host.run(composeStop(slug, { services: ["worker", "n8n"], timeoutSec: 40 }), { timeoutMs: 180_000 }),
      backup: async () => {
        const b = await backupTenant(ctx, db, storage, session, { ...tenant, status: "upgrading" }, { heldLock: lock, reason: "pre-upgrade" });
        backup = b.id;
        found.backup = b.id;
      },
      recreate: async () => {
        await writeEnv(target);
        await session.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: o.readyTimeoutSec }), { timeoutMs: (o.readyTimeoutSec + 60) * 1000 });
      },
      checks: () => checkUpgraded(ctx, session, slug, secrets, d.published ?? []),
      record: async () => {
        await lock.check();
        await setTenantImages(db, tenant.id, { n8n: target });
        await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
        await finishStep(db, op!.id, { phase: "done" });
        await ctx.audit("tenant.upgrade", slug, { what: "n8n", from, to: target, backup });
        // the server's prepared database for the new n8n, made in the background for the
        // creates after this wave — only once the image has proven itself on a tenant (a
        // broken one is rolled back before this), and never failing the upgrade
        try {
          const { prepareAhead } = await import("../tenant/prepared-db.js");
          d.prepared = await prepareAhead(ctx, session.host, { n8n: target, postgres: images.postgres });
        } catch (e) {
          ctx.out.warn(`${srv.name}: the prepared n8n database for ${target} was not asked for (${(e as Error).message.split("\n")[0]})`);
        }
      },
    };
    const detail: Partial<Record<N8nStep, string>> = {
      pull: ` ${target} on ${srv.name} (the tenant serves)`,
      recreate: ` on ${versionOf(target)}, waiting for its migrations`,
    };
    try {
      if (current === "rolling-back") throw new OperationError("the upgrade had failed; finishing its rollback", { code: "upgrade-rollback-resumed" });
      await runN8nUpgrade(
        current,
        (s) => {
          o.step(`${slug}: ${N8N_STEP_TITLES[s]}${detail[s] ?? ""}`);
          return timed(s, steps[s]).then(() => {});
        },
        reached,
      );
      return { tenant: slug, server, from, to: target, ok: true, outcome: "upgraded", backup, timings, seconds: (Date.now() - t0) / 1000 };
    } catch (e) {
      if (e instanceof LockLostError) throw e;
      const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
      if (current === "prepared") {
        // nothing changed yet (the inspection or the pull failed): the tenant served throughout
        await failStep(db, op.id, message).catch(() => {});
        return { tenant: slug, server, from, to: target, ok: false, outcome: "failed", backup, error: message, timings, seconds: (Date.now() - t0) / 1000 };
      }
      if (current === "pulled") {
        // before the backup was recorded nothing ran on the new image: the data is as it was,
        // n8n starts again on its image (the .env still names it) and the tenant serves again
        o.step(`${slug}: upgrade failed before its backup (${message}); n8n started again on ${versionOf(d.from)}`);
        await timed("restart", async () => {
          if (d.priorStatus !== "active") return;
          await session.host.run(composeUp(slug, { profiles: tenantProfiles(plan), wait: o.readyTimeoutSec }), { timeoutMs: (o.readyTimeoutSec + 60) * 1000 });
          await waitApi(session, slug, secrets.get(N8N_API_KEY));
        });
        await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
        await failStep(db, op.id, `not upgraded: ${message}`).catch(() => {});
        await ctx.audit("tenant.upgrade.abort", slug, { what: "n8n", from: d.from, to: target, error: message });
        return { tenant: slug, server, from: d.from, to: target, ok: false, outcome: "failed", backup, error: message, timings, seconds: (Date.now() - t0) / 1000 };
      }
      o.step(`${slug}: upgrade failed (${message}); rolling back: backup ${d.backup} with ${versionOf(d.from)}`);
      await reached("rolling-back");
      await timed("rollback", async () => {
        await writeEnv(d.from);
        const { getBackup } = await import("../../state/backups.js");
        const b = (await getBackup(db, d.backup!))!;
        await restoreData({ session, slug, plan, storage, key: storage.keyOf(b.location)!, master: await ctx.master(), backupId: b.id, onStep: (s) => o.step(`${slug}:   ${s}`) });
        await waitApi(session, slug, secrets.get(N8N_API_KEY));
      });
      await setTenantImages(db, tenant.id, { n8n: d.from });
      await finishTo(ctx, db, session, tenant, d.priorStatus, plan.queueMode);
      await failStep(db, op.id, `rolled back: ${message}`).catch(() => {});
      await ctx.audit("tenant.upgrade.rollback", slug, { what: "n8n", from: d.from, to: target, backup: d.backup, error: message });
      return { tenant: slug, server, from: d.from, to: target, ok: false, outcome: "rolled-back", backup, error: message, timings, seconds: (Date.now() - t0) / 1000 };
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof ConflictError || e instanceof LockLostError) throw e;
    return { tenant: slug, server, from, to: target, ok: false, outcome: "failed", backup, error: err.message.split("\n")[0]!, timings, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await lock.release();
  }
}

export async function finishTo(ctx: Ctx, db: Db, session: ServerSession, tenant: TenantRow, prior: TenantStatus, queueMode: boolean): Promise<void> {
  const { updateTenantStatus } = await import("../../state/tenants.js");
  if (prior === "suspended") {
    await session.host.run(composeStop(tenant.slug, { services: queueMode ? ["worker", "n8n"] : ["n8n"], timeoutSec: 30 }), { timeoutMs: 120_000 });
  }
  await updateTenantStatus(db, tenant.id, prior);
  await syncRoutes(session.host, db, ctx, session.server);
}

export async function pull(session: ServerSession, image: string): Promise<void> {
  const has = await session.host.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], { allowFailure: true });
  if (has.exitCode === 0) return;
  const r = await session.host.run(["docker", "pull", "--quiet", image], { allowFailure: true, timeoutMs: 900_000 });
  if (r.exitCode !== 0) throw new OperationError(`cannot pull ${image} on ${session.server.name}: ${r.stderr.trim().split("\n").pop()}`, { code: "image-pull" });
}

async function client(session: ServerSession, slug: string) {
  const tunnel = await openN8nTunnel(session.host, slug);
  const { N8nClient } = await import("../../remote/n8n.js");
  return { tunnel, n8n: new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of tenant '${slug}'` }) };
}

async function publishedWorkflows(session: ServerSession, slug: string, apiKey: string | undefined): Promise<string[]> {
  if (!apiKey) return [];
  const { tunnel, n8n } = await client(session, slug);
  try {
    await n8n.waitReady(60_000);
    return (await n8n.withApiKey(apiKey).listWorkflows({ active: true })).map((w) => w.id).sort();
  } finally {
    await tunnel.close();
  }
}

export async function waitApi(session: ServerSession, slug: string, apiKey: string | undefined): Promise<void> {
  const { tunnel, n8n } = await client(session, slug);
  try {
    await n8n.waitReady(180_000);
    if (apiKey) await n8n.withApiKey(apiKey).listWorkflows();
  } finally {
    await tunnel.close();
  }
}

/** After the recreate: the same workflows published, every credential decrypts, a smoke run succeeds. */
async function checkUpgraded(ctx: Ctx, session: ServerSession, slug: string, secrets: Map<string, string>, publishedBefore: string[]): Promise<void> {
  const { tunnel, n8n } = await client(session, slug);
  try {
    await n8n.waitReady(180_000);
    const apiKey = secrets.get(N8N_API_KEY);
    if (!apiKey) throw new OperationError(`${slug} has no n8n API key in the state`, { code: "secret-missing" });
    // a session first: the credential checks read through the internal API
    await n8n.login(ownerEmail(slug, ctx.config.domain), secrets.get(GENERATED.ownerPassword)!);
    const api = n8n.withApiKey(apiKey);
    const now = (await api.listWorkflows({ active: true })).map((w) => w.id).sort();
    const lost = publishedBefore.filter((id) => !now.includes(id));
    if (lost.length) throw new OperationError(`workflows no longer published after the upgrade: ${lost.join(", ")}`, { code: "upgrade-unpublished" });
    for (const c of await api.listCredentials()) {
      if (!(await n8n.credentialDecrypts(c.id))) throw new OperationError(`credential ${c.name} (${c.id}) does not decrypt after the upgrade`, { code: "upgrade-credentials" });
    }
    const wf = await api.createWorkflow({
      name: "btw upgrade smoke test",
      nodes: [
        { id: "s", name: "Start", type: "n8n-nodes-base.manualTrigger", typeVersion: 1, position: [0, 0], parameters: {} },
        { id: "c", name: "Check", type: "n8n-nodes-base.code", typeVersion: 2, position: [200, 0], parameters: { jsCode: "return [{ json: { ok: true } }];" } },
      ],
      connections: { Start: { main: [[{ node: "Check", type: "main", index: 0 }]] } },
      settings: { executionOrder: "v1" },
    });
    // the smoke test leaves nothing in the customer's instance: its execution and workflow go
    let executionId: string | null = null;
    try {
      executionId = await api.runWorkflow(wf.id, "Start");
      const ex = await api.waitForExecution(executionId, 60_000);
      if (ex.status !== "success") throw new OperationError(`the smoke execution ended ${ex.status}`, { code: "upgrade-smoke" });
    } finally {
      if (executionId) await api.deleteExecution(executionId).catch(() => {});
      await api.deleteWorkflow(wf.id).catch(() => {});
    }
  } finally {
    await tunnel.close();
  }
}

export type { Lock };
