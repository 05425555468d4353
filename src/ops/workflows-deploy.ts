import type { Ctx } from "../cli/context.js";
import { bindTemplate, checksum, deployOrder, openAiCredential, parseManifest, planDeploy, postgresCredential, toApiPayload, wordpressCredential, type Manifest, type PlanItem, type PlanTemplate } from "../core/workflows/index.js";
import { TENANT_DB_NAME, TENANT_DB_USER } from "../core/tenant/layout.js";
import { OperationError } from "../errors.js";
import type { N8nClient } from "../remote/n8n.js";
import type { Db } from "../state/db.js";
import type { TenantRow } from "../state/tenants.js";
import { asset } from "./assets.js";
import { GENERATED } from "./tenant-secrets.js";

// Deploys WF1–WF3 to one tenant's n8n through its public API: credentials from the tenant's
// secrets first, then each workflow in dependency order (WF2 before WF1, which calls it),
// created or updated in place (same ids), published, and recorded in workflow_deployments.
// Used by `tenant create` and `workflows deploy`.

/** Placeholder for a credential field the operator has not set yet (`btw tenant secrets set`). */
export const NOT_SET = "not-set: btw tenant secrets set";

export function loadManifest(): Manifest {
  return parseManifest(asset("workflows/manifest.yml"));
}

export function templateOf(file: string): unknown {
  return JSON.parse(asset(`workflows/${file}`));
}

/** The data of each manifest credential, from the tenant's secrets (core builders, n8n's schema rules). */
export function credentialData(name: string, type: string, secrets: Map<string, string>): Record<string, unknown> {
  switch (type) {
    case "postgres":
      return postgresCredential(name, { host: "postgres", port: 5432, database: TENANT_DB_NAME, user: TENANT_DB_USER, password: secrets.get(GENERATED.postgresPassword)! }).data;
    case "openAiApi":
      return openAiCredential(name, { apiKey: secrets.get("OPENAI_API_KEY") ?? NOT_SET, ...(secrets.get("OPENAI_BASE_URL") ? { baseUrl: secrets.get("OPENAI_BASE_URL")! } : {}) }).data;
    case "wordpressApi":
      return wordpressCredential(name, { url: secrets.get("WORDPRESS_URL") ?? "https://example.invalid", username: secrets.get("WORDPRESS_USERNAME") ?? NOT_SET, applicationPassword: secrets.get("WORDPRESS_APP_PASSWORD") ?? NOT_SET }).data;
    default:
      throw new OperationError(`no way to build credential data of type ${type}`, { code: "credential-type" });
  }
}

export interface DeployReport {
  items: Array<PlanItem & { id?: string; applied: boolean }>;
  changed: number;
}

/** Creates or updates the tenant's credentials; returns name → {id, name}. */
export async function syncCredentials(api: N8nClient, manifest: Manifest, secrets: Map<string, string>): Promise<Record<string, { id: string; name: string }>> {
  const ids: Record<string, { id: string; name: string }> = {};
  for (const c of manifest.credentials) {
    const data = credentialData(c.name, c.type, secrets);
    const existing = await api.findCredentialByName(c.name, c.type);
    const cred = existing ? await api.updateCredential(existing.id, { name: c.name, type: c.type, data }) : await api.createCredential({ name: c.name, type: c.type, data });
    ids[c.name] = { id: cred.id, name: c.name };
  }
  return ids;
}

export async function deployWorkflows(
  ctx: Ctx,
  db: Db,
  tenant: TenantRow,
  api: N8nClient,
  secrets: Map<string, string>,
  opts: { force?: boolean; dryRun?: boolean } = {},
): Promise<DeployReport> {
  const manifest = loadManifest();
  const { currentWorkflowDeployments, recordWorkflowDeployment } = await import("../state/workflow-deployments.js");
  const credentialIds = opts.dryRun ? Object.fromEntries(manifest.credentials.map((c) => [c.name, { id: "(dry-run)", name: c.name }])) : await syncCredentials(api, manifest, secrets);
  const parameters = { wordpressUrl: secrets.get("WORDPRESS_URL") ?? "https://example.invalid" };

  const liveRaw = await api.listWorkflows();
  const live = liveRaw.map((w) => ({ id: w.id, name: w.name, active: Boolean(w.active), checksum: checksum(toApiPayload(w)) }));
  const deployed = await currentWorkflowDeployments(db, tenant.id);
  const ids: Record<string, string> = Object.fromEntries(deployed.filter((d) => d.n8nId).map((d) => [d.workflowKey, d.n8nId!]));

  const bindFor = (key: string) => {
    const w = manifest.workflows.find((x) => x.key === key)!;
    return bindTemplate(templateOf(w.file), { credentialIds, workflowIds: ids, timezone: tenant.timezone, parameters });
  };
  const planTemplates: PlanTemplate[] = manifest.workflows.map((w) => {
    let sum: string | null = null;
    try {
      sum = checksum(bindFor(w.key));
    } catch {
      sum = null; // calls a workflow without an id yet
    }
    return { key: w.key, name: w.name, version: w.version, calls: w.calls, checksum: sum };
  });
  const plan = planDeploy(planTemplates, deployed, live, { force: opts.force ?? false });
  const report: DeployReport = { items: [], changed: 0 };
  if (opts.dryRun) return { items: plan.map((p) => ({ ...p, applied: false })), changed: plan.filter((p) => p.action === "create" || p.action === "update").length };

  const drift = plan.filter((p) => p.action === "drift");
  for (const item of deployOrder(plan.map((p) => ({ ...p, calls: manifest.workflows.find((w) => w.key === p.key)!.calls })))) {
    if (item.action === "drift") {
      report.items.push({ ...item, applied: false });
      continue;
    }
    let id = item.id;
    if (item.action === "create" || item.action === "update") {
      const payload = bindFor(item.key);
      const saved = item.action === "create" ? await api.createWorkflow(payload) : await api.updateWorkflow(id!, payload);
      id = saved.id;
      ids[item.key] = id;
      report.changed++;
    }
    if (item.publish || item.action !== "noop") await api.activateWorkflow(id!);
    if (item.action !== "noop") {
      // What n8n now holds is the reference for drift detection, not what we sent.
      const now = await api.getWorkflow(id!);
      await recordWorkflowDeployment(db, { tenantId: tenant.id, workflowKey: item.key, version: item.version, n8nId: id!, checksum: checksum(toApiPayload(now)) });
    }
    report.items.push({ ...item, id: id!, applied: item.action !== "noop" || item.publish });
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

/** For `tenant create`: deploy and summarise in a few words. */
export async function deployToTenant(ctx: Ctx, db: Db, tenant: TenantRow, api: N8nClient, secrets: Map<string, string>): Promise<string> {
  const r = await deployWorkflows(ctx, db, tenant, api, secrets);
  return `${r.items.length} workflows (${r.changed} changed), published`;
}
