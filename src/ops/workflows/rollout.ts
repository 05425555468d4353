import type { Ctx } from "../../cli/context.js";
import {
  planWaves,
  rolloutReport,
  runWaves,
  selectRolloutTargets,
  type RolloutReport,
  type TenantDeployResult,
  type TenantRolloutEntry,
  type VersionMap,
} from "../../core/workflows/index.js";
import { OperationError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { TenantListRow } from "../../state/tenants.js";
import { deployWorkflows, summarizeItems, verifyTenantWorkflows, type DeployReport } from "./deploy.js";
import { targetVersions, type WorkflowSource } from "./source.js";
import { HostPool, withTenantN8n } from "./tenant.js";

// `workflows deploy`: the rollout over the selected tenants in waves (core/workflows/rollout.ts
// decides; this applies). Per tenant, under its lock: credentials from its secrets, the plan,
// create/update in place, publish, record — then the health check a wave needs (every
// workflow published and matching its record). One SSH connection per server.

export interface RolloutOptions {
  source: WorkflowSource;
  waveSize: number;
  force: boolean;
  /** progress lines (stderr) as tenants finish; none with --json */
  progress?: (line: string) => void;
}

/** Deploys to one tenant and checks it came out healthy. Throws what went wrong. */
export async function deployOneTenant(ctx: Ctx, db: Db, hosts: HostPool, tenant: TenantListRow, opts: { source: WorkflowSource; force: boolean }): Promise<{ result: TenantDeployResult; report: DeployReport }> {
  return withTenantN8n(
    ctx,
    db,
    hosts,
    tenant,
    async ({ api, secrets }) => {
      const report = await deployWorkflows(ctx, db, tenant, api, secrets, { force: opts.force, source: opts.source });
      const problems = await verifyTenantWorkflows(db, tenant, api, opts.source.manifest);
      if (problems.length) {
        throw new OperationError(`${tenant.slug} is not healthy after the deploy: ${problems.join("; ")}`, { code: "workflow-unhealthy", details: { report } });
      }
      if (report.changed > 0) {
        await ctx.audit("workflows.deploy", tenant.slug, { source: opts.source.origin, changes: report.items.filter((i) => i.applied).map((i) => ({ workflow: i.key, action: i.action, from: i.fromVersion ?? null, to: i.version })) });
      }
      return { result: { outcome: report.changed > 0 ? "deployed" : "unchanged", summary: summarizeItems(report.items) }, report };
    },
    // a rollout is not in a hurry: give an n8n that just (re)started time to mount its API
    { lock: true, readyTimeoutMs: 90_000 },
  );
}

export async function versionsOf(db: Db, tenants: readonly { id: number; slug: string }[]): Promise<Map<string, VersionMap>> {
  const { currentWorkflowDeploymentsOf } = await import("../../state/workflow-deployments.js");
  const rows = await currentWorkflowDeploymentsOf(db, tenants.map((t) => t.id));
  return new Map(tenants.map((t) => [t.slug, Object.fromEntries((rows.get(t.id) ?? []).map((r) => [r.workflowKey, r.version]))]));
}

export interface RolloutOutcome {
  report: RolloutReport;
  /** the error behind each failed tenant (to rethrow, with its hint, when one tenant was asked for) */
  errors: Map<string, unknown>;
}

export async function runRollout(ctx: Ctx, db: Db, tenants: readonly TenantListRow[], opts: RolloutOptions): Promise<RolloutOutcome> {
  const { targets, skipped } = selectRolloutTargets(tenants.map((t) => ({ ...t, server: t.serverName })));
  const waves = planWaves(targets, opts.waveSize);
  const hosts = new HostPool(ctx);
  const byslug = new Map(tenants.map((t) => [t.slug, t]));
  const progress = opts.progress ?? (() => {});
  const errors = new Map<string, unknown>();
  for (const s of skipped) progress(`skip ${s.tenant.slug}: ${s.reason}`);
  const run = await runWaves(
    waves,
    async (t) => {
      try {
        return (await deployOneTenant(ctx, db, hosts, byslug.get(t.slug)!, opts)).result;
      } catch (e) {
        errors.set(t.slug, e);
        // a drift error still carries what was applied before it
        const partial = (e as { details?: { report?: DeployReport } }).details?.report;
        const code = (e as { code?: unknown }).code;
        return { outcome: "failed", summary: partial ? summarizeItems(partial.items) : "", error: (e as Error).message.split("\n")[0]!, ...(typeof code === "string" ? { code } : {}) };
      }
    },
    {
      onWaveStart: (w, of, ts) => progress(`wave ${w}/${of}: ${ts.map((t) => t.slug).join(", ")}`),
      onTenantDone: (e: TenantRolloutEntry) => progress(`  ${e.tenant}: ${e.outcome} in ${e.seconds?.toFixed(1)} s${e.summary ? ` (${e.summary})` : ""}${e.error ? ` — ${e.error}` : ""}`),
    },
  );
  if (run.halted) progress(`halted after wave ${run.halted.wave}: ${run.halted.failed.join(", ")} failed; ${run.entries.filter((e) => e.outcome === "not-started").length} tenant(s) not started`);
  const versions = await versionsOf(db, tenants);
  const report = rolloutReport(run, skipped, versions, targetVersions(opts.source), opts.waveSize);
  await ctx.audit("workflows.rollout", tenants.length === 1 ? tenants[0]!.slug : "*", {
    source: opts.source.origin,
    target: report.target,
    waveSize: opts.waveSize,
    counts: report.counts,
    halted: report.halted,
  });
  return { report, errors };
}
