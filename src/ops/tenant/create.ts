import { randomBytes } from "node:crypto";
import type { Ctx } from "../../cli/context.js";
import type { ProgressStep } from "../../cli/progress.js";
import type { Plan } from "../../config/schema.js";
import { composeUp, tenantProfiles } from "../../core/commands/compose.js";
import { networkSubnets, parseNetworkSubnets, psqlFromStdin } from "../../core/commands/inspect.js";
import { nameProblem, TENANT_NAME } from "../../core/names.js";
import { choosePlacement, placementError } from "../../core/placement.js";
import { allocateSubnet } from "../../core/subnets.js";
import { isTimezone } from "../../core/tenant/env.js";
import { TENANT_DB_NAME, TENANT_DB_USER, tenantLayout } from "../../core/tenant/layout.js";
import { generateTenantSecrets, type TenantSecrets } from "../../core/tenant/secrets.js";
import { ConflictError, OperationError, UsageError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantImages, TenantRow } from "../../state/tenants.js";
import { asset } from "../assets.js";
import type { Host } from "../host.js";
import { ensureProxy, syncRoutes } from "../proxy.js";
import { assertStackOwned } from "../stack-ownership.js";
import { envFor, hostFor, imagesOf, lockTenant, requirePlan, writeTenantFiles } from "../tenant-context.js";
import { GENERATED, readAllSecrets, storeSecrets } from "../tenant-secrets.js";

export const CREATE_KIND = "tenant.create";

export interface CreateRequest {
  slug: string;
  plan: string;
  server?: string;
  timezone?: string;
}

/** Everything decided before anything is written: the dry run prints it, the real run applies it. */
export interface CreatePlan {
  slug: string;
  planName: string;
  plan: Plan;
  timezone: string;
  server: ServerRow;
  /** null when resuming: the tenant keeps the subnet it has */
  subnet: string;
  resume: TenantRow | null;
  /** the images it will run: config's for a new tenant, its row's when resuming */
  images: TenantImages;
}

/** Validates the request (exit 2 on anything wrong) and decides placement. Writes nothing. */
export async function planCreate(ctx: Ctx, db: Db, req: CreateRequest): Promise<CreatePlan> {
  const problem = nameProblem(req.slug, TENANT_NAME);
  if (problem) throw new UsageError(problem, { code: "invalid-tenant-name" });
  const plan = requirePlan(ctx, req.plan);
  const timezone = req.timezone ?? ctx.config.defaults.timezone;
  if (!isTimezone(timezone)) throw new UsageError(`unknown timezone ${JSON.stringify(timezone)}`, { hint: "use an IANA name such as Europe/Paris" });

  const { getTenant } = await import("../../state/tenants.js");
  const { getServer, getServerByName, listServers } = await import("../../state/servers.js");
  const existing = await getTenant(db, req.slug);
  if (existing) {
    if (existing.status !== "provisioning" && existing.status !== "failed") {
      throw new ConflictError(`tenant '${req.slug}' already exists (${existing.status})`, { code: "tenant-exists", hint: `\`btw tenant show ${req.slug}\`` });
    }
    // Resuming an interrupted create: the request must describe the same tenant.
    if (existing.plan !== req.plan) {
      throw new UsageError(`tenant '${req.slug}' is being provisioned with plan ${existing.plan}, not ${req.plan}`, {
        hint: `re-run with --plan ${existing.plan} to finish it, or \`btw tenant delete ${req.slug} --purge\``,
      });
    }
    const server = (await getServer(db, existing.serverId!))!;
    if (req.server && req.server !== server.name) {
      throw new UsageError(`tenant '${req.slug}' is being provisioned on ${server.name}, not ${req.server}`, { hint: `re-run without --server to finish it there` });
    }
    return { slug: req.slug, planName: req.plan, plan, timezone: existing.timezone, server, subnet: existing.subnet!, resume: existing, images: imagesOf(ctx, existing) };
  }

  const servers = await listServers(db);
  const { placementInput } = await import("./placement.js");
  const placement = choosePlacement({
    ...(await placementInput(ctx, db, servers, req.plan, plan)),
    weight: plan.weight,
    ...(req.server ? { requested: req.server } : {}),
  });
  if (!placement.ok) throw placementError(placement);
  const server = (await getServerByName(db, placement.server))!;
  const { usedSubnets } = await import("../../state/tenants.js");
  const subnet = allocateSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, await usedSubnets(db, server.id));
  if (!subnet) {
    throw new ConflictError(`no free subnet left on ${server.name} in ${ctx.config.placement.subnetPool}/${ctx.config.placement.subnetPrefix}`, {
      code: "subnets-exhausted",
      hint: "widen placement.subnetPool or use a smaller placement.subnetPrefix block size",
    });
  }
  return { slug: req.slug, planName: req.plan, plan, timezone, server, subnet, resume: null, images: { ...ctx.config.images } };
}

/** The dry run: what would be written and run, secrets left out. */
export function describeCreate(ctx: Ctx, p: CreatePlan) {
  const layout = tenantLayout(p.slug);
  return {
    tenant: p.slug,
    plan: p.planName,
    server: p.server.name,
    subnet: p.subnet,
    timezone: p.timezone,
    resume: p.resume ? { status: p.resume.status, failedStep: p.resume.failedStep } : null,
    url: `${ctx.config.proxy.tls === "off" ? "http" : "https"}://${p.slug}.${ctx.config.domain}/`,
    files: [
      { path: layout.composeFile, mode: "0644", from: "templates/tenant/compose.yml" },
      { path: layout.envFile, mode: "0600", from: "rendered (secrets generated at apply time)" },
    ],
    commands: [composeUp(p.slug, { profiles: tenantProfiles(p.plan), wait: 300 })],
    state: p.resume ? [`resume tenant ${p.slug} from its journal`] : [`insert tenant ${p.slug} (provisioning) on ${p.server.name}`, "store 4 sealed secrets", "journal one row per step", "audit tenant.create"],
  };
}

interface RunState {
  tenant: TenantRow;
  host: Host;
  secrets: Map<string, string>;
}

/** Applies a plan: registers the tenant, then runs each step once, journaled. Resumable. */
export async function executeCreate(ctx: Ctx, db: Db, p: CreatePlan): Promise<TenantRow> {
  const lock = await lockTenant(db, p.slug);
  try {
    // Reaching the server comes before any row exists: an unreachable server creates nothing.
    const host = await hostFor(ctx, p.server);
    await host.ssh.connect();
    // Before anything is written (state or server): a stack of that name this state does not
    // own (another btw home's tenant, a leftover) is refused, never adopted or overwritten.
    // A resumed create's own stack is ours (its row exists; its labels carry our state).
    await assertStackOwned(host, { slug: p.slug, stateId: ctx.stateId, recorded: p.resume !== null });
    const master = await ctx.master();
    const tenant = p.resume ?? (await register(ctx, db, host, master, p));
    if (p.resume) {
      const { updateTenantStatus } = await import("../../state/tenants.js");
      await updateTenantStatus(db, tenant.id, "provisioning");
    }
    const state: RunState = { tenant, host, secrets: await readAllSecrets(db, master, tenant.id) };
    const { completedSteps } = await import("../../state/operations.js");
    const done = new Set(await completedSteps(db, tenant.id, CREATE_KIND));
    // ship → (proxy | prepared database) → stack up → (content schema | n8n set-up) → route:
    // each pair is independent, so they run at once (each journaled on its own).
    const { concurrently } = await import("../../cli/progress.js");
    const byId = new Map(createSteps(ctx, db, p).map((s) => [s.id, journaled(db, tenant, s, done)]));
    const steps = CREATE_ORDER.map((ids) => (ids.length === 1 ? byId.get(ids[0]!)! : concurrently(ids.map((id) => byId.get(id)!))));
    const { runWithProgress } = await import("../../cli/progress.js");
    try {
      await runWithProgress(ctx, state, steps, `creating tenant ${p.slug} (${p.planName}) on ${p.server.name}`);
    } catch (e) {
      throw new OperationError(`tenant create ${p.slug} failed: ${(e as Error).message.split("\n")[0]}`, {
        code: "tenant-create-failed",
        hint: `fix the cause, then re-run \`btw tenant create ${p.slug} --plan ${p.planName}\`: it resumes where it stopped`,
        cause: e,
      });
    }
    const { getTenant } = await import("../../state/tenants.js");
    return (await getTenant(db, p.slug))!;
  } finally {
    await lock.release();
  }
}

/**
 * Inserts the tenant under the server's lock, re-deciding capacity and subnet there: two
 * creates racing for one server must not both take its last slot or the same subnet.
 */
async function register(ctx: Ctx, db: Db, host: Host, master: Awaited<ReturnType<Ctx["master"]>>, p: CreatePlan): Promise<TenantRow> {
  const { insertTenant, usedSubnets } = await import("../../state/tenants.js");
  const { listServers } = await import("../../state/servers.js");
  const lock = await db.lock({ kind: "server", name: p.server.name }, { timeoutMs: 60_000 });
  try {
    const usage = (await listServers(db)).find((s) => s.id === p.server.id)!;
    if (usage.freeCapacity < p.plan.weight) {
      throw new ConflictError(`server ${p.server.name} has ${usage.freeCapacity} capacity units left, plan ${p.planName} needs ${p.plan.weight}`, { code: "server-full" });
    }
    // What the state has handed out, and what the server's Docker already uses (networks left
    // by someone else, or by a tenant whose row is gone): a new network must overlap neither.
    const onServer = parseNetworkSubnets((await host.run(networkSubnets())).stdout);
    const subnet = allocateSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, [...(await usedSubnets(db, p.server.id)), ...onServer]);
    if (!subnet) throw new ConflictError(`no free subnet left on ${p.server.name}`, { code: "subnets-exhausted" });
    p.subnet = subnet;
    const secrets: TenantSecrets = generateTenantSecrets((n) => randomBytes(n));
    return await db.transaction(async (tx) => {
      const t = await insertTenant(tx, { slug: p.slug, plan: p.planName, weight: p.plan.weight, serverId: p.server.id, subnet, timezone: p.timezone, status: "provisioning", images: p.images });
      await storeSecrets(tx, master, t.id, {
        [GENERATED.postgresPassword]: secrets.postgresPassword,
        [GENERATED.redisPassword]: secrets.redisPassword,
        [GENERATED.encryptionKey]: secrets.encryptionKey,
        [GENERATED.ownerPassword]: secrets.ownerPassword,
      });
      const { appendAudit } = await import("../../state/audit.js");
      await appendAudit(tx, { action: "tenant.create", target: p.slug, details: { plan: p.planName, server: p.server.name, subnet, timezone: p.timezone } });
      return t;
    });
  } finally {
    await lock.release();
  }
}

type Step = ProgressStep<RunState> & { id: string };

/** The create's steps in order; steps in one entry run at once (none needs another's result). */
const CREATE_ORDER: readonly (readonly string[])[] = [["ship"], ["proxy", "database"], ["up"], ["content-schema", "n8n"], ["route"]];

/** Wraps a step in the journal: skipped when an earlier run finished it; failures recorded. */
function journaled(db: Db, tenant: TenantRow, step: Step, done: Set<string>): ProgressStep<RunState> {
  return {
    title: step.title,
    skip: () => (done.has(step.id) ? `${step.title} (done earlier)` : false),
    run: async (state) => {
      const { startStep, finishStep, failStep } = await import("../../state/operations.js");
      const row = await startStep(db, { kind: CREATE_KIND, step: step.id, tenantId: tenant.id, serverId: tenant.serverId });
      try {
        const outcome = await step.run(state);
        await finishStep(db, row.id);
        return outcome;
      } catch (e) {
        const message = (e as Error).message.split("\n")[0]!.slice(0, 500);
        await failStep(db, row.id, message);
        const { updateTenantStatus } = await import("../../state/tenants.js");
        await updateTenantStatus(db, tenant.id, "failed", { failedStep: step.id, error: message });
        throw e;
      }
    },
  };
}

function createSteps(ctx: Ctx, db: Db, p: CreatePlan): Step[] {
  const layout = tenantLayout(p.slug);
  return [
    {
      id: "ship",
      title: "ship compose file and .env",
      run: async ({ host, secrets }) => {
        await host.mkdir(layout.dir, "0700");
        await writeTenantFiles(host, p.slug, envFor(ctx, p, secrets));
        return layout.dir;
      },
    },
    {
      id: "proxy",
      title: "ensure the server's proxy",
      run: async ({ host }) => {
        await ensureProxy(host, db, ctx, p.server.id);
      },
    },
    {
      id: "database",
      title: "clone the prepared n8n database",
      run: async ({ host, secrets }) => {
        if (!ctx.config.placement.preparedDatabase) return "off (placement.preparedDatabase: false)";
        const { clonePreparedDatabase } = await import("./prepared-db.js");
        return clonePreparedDatabase(ctx, host, { slug: p.slug, server: p.server.name, profiles: tenantProfiles(p.plan), images: p.images, secrets });
      },
    },
    {
      id: "up",
      title: "start the stack and wait until healthy",
      run: async ({ host }) => {
        await host.run(composeUp(p.slug, { profiles: tenantProfiles(p.plan), wait: 300 }), { timeoutMs: 330_000 });
        return tenantProfiles(p.plan).length ? "queue mode" : "regular mode";
      },
    },
    {
      id: "content-schema",
      title: "create the content schema",
      run: async ({ host }) => {
        await host.run(psqlFromStdin(layout.containers.postgres, TENANT_DB_USER, TENANT_DB_NAME), { input: asset("workflows/content-schema.sql"), timeoutMs: 60_000 });
      },
    },
    {
      id: "n8n",
      title: "set up n8n: owner, API key, credentials, workflows",
      run: async (state) => {
        const { bootstrapN8n } = await import("../n8n-bootstrap.js");
        return bootstrapN8n(ctx, db, state.host, state.tenant, state.secrets);
      },
    },
    {
      id: "route",
      title: "route the tenant through the proxy",
      run: async ({ host, tenant }) => {
        const { updateTenantStatus } = await import("../../state/tenants.js");
        // syncRoutes attaches the proxy to the tenant's network first (attachTenantNetworks)
        await syncRoutes(host, db, ctx, p.server, [p.slug]);
        // edge mode: the edge proxies route the new name too (a failure stops the step: the
        // re-run of the create finishes it)
        const { syncEdgeAfterChange } = await import("../edge/switch.js");
        await syncEdgeAfterChange(ctx, db);
        await updateTenantStatus(db, tenant.id, "active");
        return `${p.slug}.${ctx.config.domain}`;
      },
    },
  ];
}
