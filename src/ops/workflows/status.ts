import type { Ctx } from "../../cli/context.js";
import { diffWorkflows, isEmptyDiff, mapLimit, toApiPayload, type PlanItem, type WorkflowDiff } from "../../core/workflows/index.js";
import type { Db } from "../../state/db.js";
import type { TenantRow } from "../../state/tenants.js";
import { articlesPerWeekOf, existingCredentialIds, liveChecksum, planTenant, summarizeItems } from "./deploy.js";
import type { WorkflowSource } from "./source.js";
import { HostPool, withTenantN8n } from "./tenant.js";

// `workflows status` and `workflows diff`: read-only looks at tenants' n8n. Status compares,
// per workflow, what the state recorded with what n8n holds now (drift = someone edited it
// in the tenant's editor) and with the manifest (outdated). Diff shows what a deploy would
// change and, for drift, what was edited, node by node.

export type WorkflowState =
  | "ok"
  | "outdated"
  | "drift"
  | "missing"
  | "unpublished"
  | "not-deployed"
  | "unreachable"
  | "suspended"
  | "provisioning"
  | "failed"
  | "deleting";

export interface WorkflowStatusRow {
  tenant: string;
  server: string | null;
  workflow: string | null;
  /** recorded as deployed */
  version: string | null;
  /** the manifest's */
  target: string | null;
  n8nId: string | null;
  published: boolean | null;
  state: WorkflowState;
  deployedAt: Date | null;
  /** one line, e.g. why a tenant is unreachable */
  detail: string | null;
}

/** Rows for one tenant; unreachable tenants give one row saying so (never throws for that). */
export async function tenantWorkflowStatus(ctx: Ctx, db: Db, hosts: HostPool, tenant: TenantRow & { serverName?: string | null }, source: WorkflowSource): Promise<WorkflowStatusRow[]> {
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const rows = new Map((await currentWorkflowDeployments(db, tenant.id)).map((r) => [r.workflowKey, r]));
  const server = tenant.serverName ?? null;
  const base = (w: (typeof source.manifest.workflows)[number]) => {
    const r = rows.get(w.key);
    return { tenant: tenant.slug, server, workflow: w.key, version: r?.version ?? null, target: w.version, n8nId: r?.n8nId ?? null, deployedAt: r?.deployedAt ?? null };
  };
  if (tenant.status !== "active") {
    return source.manifest.workflows.map((w) => ({ ...base(w), published: null, state: tenant.status as WorkflowState, detail: `tenant is ${tenant.status}: n8n not contacted` }));
  }
  try {
    return await withTenantN8n(
      ctx,
      db,
      hosts,
      tenant,
      async ({ api }) => {
        const live = new Map((await api.listWorkflows()).map((w) => [w.id, w]));
        return source.manifest.workflows.map((w): WorkflowStatusRow => {
          const b = base(w);
          const r = rows.get(w.key);
          if (!r?.n8nId) return { ...b, published: null, state: "not-deployed", detail: null };
          const l = live.get(r.n8nId);
          if (!l) return { ...b, published: null, state: "missing", detail: `workflow ${r.n8nId} no longer exists in n8n` };
          const published = Boolean(l.active) && (!l.activeVersionId || !l.versionId || l.activeVersionId === l.versionId);
          if (liveChecksum(l) !== r.checksum) return { ...b, published, state: "drift", detail: "changed in n8n since it was deployed" };
          if (!published) return { ...b, published, state: "unpublished", detail: l.active ? "the saved version is not the published one" : "not published" };
          if (r.version !== w.version) return { ...b, published, state: "outdated", detail: `${r.version} deployed, ${w.version} available` };
          return { ...b, published, state: "ok", detail: null };
        });
      },
      { readyTimeoutMs: 10_000 },
    );
  } catch (e) {
    return [{ tenant: tenant.slug, server, workflow: null, version: null, target: null, n8nId: null, published: null, state: "unreachable", deployedAt: null, detail: (e as Error).message.split("\n")[0]! }];
  }
}

export async function fleetWorkflowStatus(ctx: Ctx, db: Db, tenants: readonly (TenantRow & { serverName?: string | null })[], source: WorkflowSource, concurrency = 4): Promise<WorkflowStatusRow[]> {
  const hosts = new HostPool(ctx);
  return (await mapLimit(tenants, concurrency, (t) => tenantWorkflowStatus(ctx, db, hosts, t, source))).flat();
}

export interface WorkflowDiffEntry {
  workflow: string;
  action: PlanItem["action"];
  fromVersion: string | null;
  version: string;
  reason: string;
  /** drift: recorded → live (what was edited in n8n) */
  edited: WorkflowDiff | null;
  /** create/update/forced: live (or nothing) → the template, what a deploy would push */
  deploy: WorkflowDiff | null;
  /** why a diff could not be shown */
  note: string | null;
}

export interface TenantDiff {
  tenant: string;
  summary: string;
  workflows: WorkflowDiffEntry[];
}

export async function tenantDiff(ctx: Ctx, db: Db, tenant: TenantRow, source: WorkflowSource, opts: { force?: boolean } = {}): Promise<TenantDiff> {
  const hosts = new HostPool(ctx);
  const { getWorkflowTemplate } = await import("../../state/workflow-deployments.js");
  return withTenantN8n(ctx, db, hosts, tenant, async ({ api, secrets }) => {
    const credentialIds = await existingCredentialIds(api, source.manifest);
    const tp = await planTenant(db, tenant, api, source, credentialIds, secrets, { force: opts.force ?? false, articlesPerWeek: articlesPerWeekOf(ctx, tenant) });
    const workflows: WorkflowDiffEntry[] = [];
    for (const item of tp.plan) {
      const row = tp.deployed.get(item.key);
      const live = item.id ? tp.live.get(item.id) : undefined;
      const entry: WorkflowDiffEntry = { workflow: item.key, action: item.action, fromVersion: item.fromVersion ?? null, version: item.version, reason: item.reason, edited: null, deploy: null, note: null };
      let newTemplate: ReturnType<typeof tp.bind> | null = null;
      try {
        newTemplate = tp.bind(source.templates.get(item.key), item.key);
      } catch (e) {
        entry.note = (e as Error).message;
      }
      if (item.action === "drift" && live) {
        const stored = row?.templateSha256 ? await getWorkflowTemplate(db, row.templateSha256) : null;
        if (stored) entry.edited = diffWorkflows(tp.bind(stored.template, item.key), toApiPayload(live));
        else entry.note = `version ${row?.version ?? "?"} was recorded without its template: showing live → template instead`;
        if (newTemplate && (!stored || row?.version !== item.version)) entry.deploy = diffWorkflows(toApiPayload(live), newTemplate);
      } else if ((item.action === "update" || item.action === "noop") && live && newTemplate) {
        const d = diffWorkflows(toApiPayload(live), newTemplate);
        entry.deploy = isEmptyDiff(d) ? null : d;
      } else if (item.action === "create" && newTemplate) {
        entry.deploy = diffWorkflows({ name: newTemplate.name, nodes: [], connections: {}, settings: {} }, newTemplate);
      }
      workflows.push(entry);
    }
    return { tenant: tenant.slug, summary: summarizeItems(tp.plan), workflows };
  });
}
