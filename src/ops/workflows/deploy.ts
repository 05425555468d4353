import type { Ctx } from "../../cli/context.js";
import {
  bindTemplate,
  checksum,
  deployOrder,
  openAiCredential,
  planDeploy,
  postgresCredential,
  storedTemplate,
  toApiPayload,
  wordpressCredential,
  type BindInput,
  type Manifest,
  type PlanItem,
  type PlanTemplate,
  type WorkflowPayload,
} from "../../core/workflows/index.js";
import { articleCrons } from "../../core/workflows/schedule.js";
import { TENANT_DB_NAME, TENANT_DB_USER } from "../../core/tenant/layout.js";
import { OperationError } from "../../errors.js";
import type { N8nClient, N8nWorkflow } from "../../remote/n8n.js";
import type { Db } from "../../state/db.js";
import type { TenantRow } from "../../state/tenants.js";
import type { WorkflowDeploymentRow } from "../../state/workflow-deployments.js";
import { GENERATED } from "../tenant-secrets.js";
import { loadWorkflowSource, type WorkflowSource } from "./source.js";

// Deploys WF1–WF3 to one tenant's n8n through its public API: credentials from the tenant's
// secrets first, then each workflow in dependency order (WF2 before WF1, which calls it),
// created or updated in place (same ids), published, and recorded in workflow_deployments
// with the template it came from (workflow_templates, for rollback). Used by `tenant create`
// and `workflows deploy`; `workflows status/diff` share the planning half.

/** Placeholder for a credential field the operator has not set yet (`btw tenant secrets set`). */
export const NOT_SET = "not-set: btw tenant secrets set";
/** WF3's wordpressUrl before the operator set WORDPRESS_URL. */
const NO_WORDPRESS = "https://example.invalid";

/** The data of each manifest credential, from the tenant's secrets (core builders, n8n's schema rules). */
export function credentialData(name: string, type: string, secrets: Map<string, string>): Record<string, unknown> {
  switch (type) {
    case "postgres":
      return postgresCredential(name, { host: "postgres", port: 5432, database: TENANT_DB_NAME, user: TENANT_DB_USER, password: secrets.get(GENERATED.postgresPassword)! }).data;
    case "openAiApi":
      return openAiCredential(name, { apiKey: secrets.get("OPENAI_API_KEY") ?? NOT_SET, ...(secrets.get("OPENAI_BASE_URL") ? { baseUrl: secrets.get("OPENAI_BASE_URL")! } : {}) }).data;
    case "wordpressApi":
      return wordpressCredential(name, { url: secrets.get("WORDPRESS_URL") ?? NO_WORDPRESS, username: secrets.get("WORDPRESS_USERNAME") ?? NOT_SET, applicationPassword: secrets.get("WORDPRESS_APP_PASSWORD") ?? NOT_SET }).data;
    default:
      throw new OperationError(`no way to build credential data of type ${type}`, { code: "credential-type" });
  }
}

type CredentialIds = BindInput["credentialIds"];

/** Creates or updates the tenant's credentials; returns name → {id, name}. */
export async function syncCredentials(api: N8nClient, manifest: Manifest, secrets: Map<string, string>): Promise<CredentialIds> {
  // one after the other: on n8n < 2.8 each lookup may fall back to the internal API with an
  // owner login, and two at once made `tenant set-plan` fail on n8n 2.6.4 (e2e upgrade)
  const ids: CredentialIds = {};
  for (const c of manifest.credentials) {
    const data = credentialData(c.name, c.type, secrets);
    const existing = await api.findCredentialByName(c.name, c.type);
    const cred = existing ? await api.updateCredential(existing.id, { name: c.name, type: c.type, data }) : await api.createCredential({ name: c.name, type: c.type, data });
    ids[c.name] = { id: cred.id, name: c.name };
  }
  return ids;
}

/**
 * The ids the tenant's credentials have now, without changing them (dry runs, status, diff).
 * A credential not created yet gets a marker id: binding still works, and the plan says create.
 */
export async function existingCredentialIds(api: N8nClient, manifest: Manifest): Promise<CredentialIds> {
  const all = await api.listCredentials();
  const ids: CredentialIds = {};
  for (const c of manifest.credentials) {
    const hit = all.find((x) => x.name === c.name && x.type === c.type);
    ids[c.name] = { id: hit?.id ?? "(not created yet)", name: c.name };
  }
  return ids;
}

/** Everything a plan for one tenant is made of; what status and diff show. */
export interface TenantPlan {
  source: WorkflowSource;
  plan: PlanItem[];
  /** the tenant's workflows in n8n now, by id */
  live: Map<string, N8nWorkflow>;
  /** current workflow_deployments rows, by manifest key */
  deployed: Map<string, WorkflowDeploymentRow>;
  /** manifest key → n8n id, as known so far (filled in while deploying) */
  ids: Record<string, string>;
  /** a template (or a stored one) bound to this tenant: credentials, workflow ids, timezone, parameters */
  /** binds a template to this tenant; `key` applies that workflow's plan-driven schedule */
  bind: (template: unknown, key?: string) => WorkflowPayload;
}

export function tenantParameters(secrets: Map<string, string>): Record<string, string> {
  return { wordpressUrl: secrets.get("WORDPRESS_URL") ?? NO_WORDPRESS };
}

/** The tenant's plan's weekly articles (null: unlimited, the template's own schedule). */
export function articlesPerWeekOf(ctx: Ctx, tenant: Pick<TenantRow, "plan">): number | null {
  return ctx.config.plans[tenant.plan]?.articlesPerWeek ?? null;
}

/** The plan-driven schedule of workflow `key`, when its manifest entry asks for one. */
export function scheduleFor(manifest: Manifest, key: string | undefined, perWeek: number | null | undefined): { schedule?: string[] } {
  const w = key ? manifest.workflows.find((x) => x.key === key) : undefined;
  if (w?.schedule !== "articlesPerWeek" || perWeek === undefined) return {};
  const crons = articleCrons(perWeek);
  return crons ? { schedule: crons } : {};
}

export function liveChecksum(w: N8nWorkflow): string {
  return checksum(toApiPayload(w));
}

export async function planTenant(
  db: Db,
  tenant: TenantRow,
  api: N8nClient,
  source: WorkflowSource,
  credentialIds: CredentialIds,
  secrets: Map<string, string>,
  opts: { force?: boolean; articlesPerWeek?: number | null } = {},
): Promise<TenantPlan> {
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const [liveRaw, rows] = await Promise.all([api.listWorkflows(), currentWorkflowDeployments(db, tenant.id)]);
  const live = new Map(liveRaw.map((w) => [w.id, w]));
  const ids: Record<string, string> = Object.fromEntries(rows.filter((d) => d.n8nId).map((d) => [d.workflowKey, d.n8nId!]));
  const parameters = tenantParameters(secrets);
  const bind = (template: unknown, key?: string) => bindTemplate(template, { credentialIds, workflowIds: ids, timezone: tenant.timezone, parameters, ...scheduleFor(source.manifest, key, opts.articlesPerWeek) });
  const planTemplates: PlanTemplate[] = source.manifest.workflows.map((w) => {
    let sum: string | null = null;
    try {
      sum = checksum(bind(source.templates.get(w.key), w.key));
    } catch {
      sum = null; // calls a workflow without an id yet
    }
    return { key: w.key, name: w.name, version: w.version, calls: w.calls, checksum: sum };
  });
  const plan = planDeploy(
    planTemplates,
    rows,
    liveRaw.map((w) => ({ id: w.id, name: w.name, active: Boolean(w.active), checksum: liveChecksum(w) })),
    { force: opts.force ?? false },
  );
  return { source, plan, live, deployed: new Map(rows.map((r) => [r.workflowKey, r])), ids, bind };
}

export interface DeployItem extends PlanItem {
  id?: string;
  applied: boolean;
}

export interface DeployReport {
  tenant: string;
  items: DeployItem[];
  /** workflows created or updated */
  changed: number;
  /** credentials created or updated from the tenant's secrets (0 in a dry run) */
  credentials: number;
  dryRun: boolean;
}

/** "wf2 update 1→2, wf1 noop, wf3 noop" */
export function summarizeItems(items: readonly PlanItem[]): string {
  return items.map((i) => `${i.key} ${i.action}${i.fromVersion !== undefined && i.fromVersion !== i.version ? ` ${i.fromVersion}→${i.version}` : ""}${i.action === "noop" && i.publish ? " (publish)" : ""}`).join(", ");
}

/** Records what n8n now holds for `key` (its checksum is the drift reference) with the template it came from. */
export async function recordDeployed(
  db: Db,
  tenant: TenantRow,
  r: { key: string; version: string; n8nId: string; liveChecksum: string; template: unknown; origin?: "deploy" | "rollback"; supersede?: number[] },
): Promise<void> {
  const { recordWorkflowDeployment, setWorkflowDeploymentStatus, storeWorkflowTemplate } = await import("../../state/workflow-deployments.js");
  const stored = storedTemplate(r.template);
  await db.transaction(async (tx) => {
    await storeWorkflowTemplate(tx, { sha256: stored.sha256, workflowKey: r.key, version: r.version, template: stored.template });
    for (const id of r.supersede ?? []) await setWorkflowDeploymentStatus(tx, id, "rolled_back");
    await recordWorkflowDeployment(tx, {
      tenantId: tenant.id,
      workflowKey: r.key,
      version: r.version,
      n8nId: r.n8nId,
      checksum: r.liveChecksum,
      templateSha256: stored.sha256,
      origin: r.origin ?? "deploy",
    });
  });
}

export async function deployWorkflows(
  ctx: Ctx,
  db: Db,
  tenant: TenantRow,
  api: N8nClient,
  secrets: Map<string, string>,
  opts: { force?: boolean; dryRun?: boolean; source?: WorkflowSource } = {},
): Promise<DeployReport> {
  const source = opts.source ?? loadWorkflowSource();
  const manifest = source.manifest;
  const credentialIds = opts.dryRun ? await existingCredentialIds(api, manifest) : await syncCredentials(api, manifest, secrets);
  const tp = await planTenant(db, tenant, api, source, credentialIds, secrets, { force: opts.force ?? false, articlesPerWeek: articlesPerWeekOf(ctx, tenant) });
  const report: DeployReport = { tenant: tenant.slug, items: [], changed: 0, credentials: opts.dryRun ? 0 : manifest.credentials.length, dryRun: opts.dryRun ?? false };
  if (opts.dryRun) {
    report.items = tp.plan.map((p) => ({ ...p, applied: false }));
    report.changed = tp.plan.filter((p) => p.action === "create" || p.action === "update").length;
    return report;
  }

  const drift = tp.plan.filter((p) => p.action === "drift");
  for (const item of deployOrder(tp.plan.map((p) => ({ ...p, calls: manifest.workflows.find((w) => w.key === p.key)!.calls })))) {
    const { calls: _calls, ...planItem } = item;
    if (item.action === "drift") {
      report.items.push({ ...planItem, applied: false });
      continue;
    }
    let id = item.id;
    const template = source.templates.get(item.key);
    if (item.action === "create" || item.action === "update") {
      const payload = tp.bind(template, item.key);
      const saved = item.action === "create" ? await api.createWorkflow(payload) : await api.updateWorkflow(id!, payload);
      id = saved.id;
      tp.ids[item.key] = id;
      report.changed++;
    }
    if (item.publish || item.action !== "noop") await api.activateWorkflow(id!);
    if (item.action !== "noop") {
      // What n8n now holds is the reference for drift detection, not what we sent.
      const now = await api.getWorkflow(id!);
      await recordDeployed(db, tenant, { key: item.key, version: item.version, n8nId: id!, liveChecksum: liveChecksum(now), template });
    }
    report.items.push({ ...planItem, id: id!, applied: item.action !== "noop" || item.publish });
  }
  if (drift.length) {
    throw new OperationError(`${tenant.slug}: ${drift.map((d) => d.key).join(", ")} changed in n8n since deployed (${drift.map((d) => d.reason).join("; ")})`, {
      code: "workflow-drift",
      hint: `\`btw workflows diff --tenant ${tenant.slug}\` shows the changes; \`btw workflows deploy --tenant ${tenant.slug} --force\` overwrites them`,
      details: { report },
    });
  }
  void ctx;
  return report;
}

/**
 * The health a wave needs from a tenant: every recorded workflow exists, is published (the
 * active version is the current one) and matches its recorded checksum. Returns problems.
 */
export async function verifyTenantWorkflows(db: Db, tenant: TenantRow, api: N8nClient, manifest: Manifest): Promise<string[]> {
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const rows = new Map((await currentWorkflowDeployments(db, tenant.id)).map((r) => [r.workflowKey, r]));
  const problems: string[] = [];
  for (const w of manifest.workflows) {
    const row = rows.get(w.key);
    if (!row?.n8nId) {
      problems.push(`${w.key} is not deployed`);
      continue;
    }
    const live = await api.findWorkflow(row.n8nId);
    if (!live) problems.push(`${w.key} (${row.n8nId}) no longer exists in n8n`);
    else if (!live.active) problems.push(`${w.key} is not published`);
    else if (live.activeVersionId && live.versionId && live.activeVersionId !== live.versionId) problems.push(`${w.key}: the published version is not the saved one`);
    else if (liveChecksum(live) !== row.checksum) problems.push(`${w.key} does not match what was recorded`);
  }
  return problems;
}

/** For `tenant create`: deploy and summarise in a few words. */
export async function deployToTenant(ctx: Ctx, db: Db, tenant: TenantRow, api: N8nClient, secrets: Map<string, string>): Promise<string> {
  const r = await deployWorkflows(ctx, db, tenant, api, secrets);
  return `${r.items.length} workflows (${r.changed} changed), published`;
}
