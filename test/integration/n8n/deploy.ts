// A minimal deployer for the integration tests — the shape `btw workflows deploy` follows for
// one tenant: read manifest + templates, checksum what n8n has, plan (core/workflows), then
// create/update in plan order (WF2 before WF1), publish, and return the rows to record.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  bindTemplate,
  checksum,
  parseManifest,
  planDeploy,
  toApiPayload,
  type BindInput,
  type DeployedWorkflow,
  type Manifest,
  type PlanItem,
} from "../../../src/core/workflows/index.js";
import type { N8nClient } from "../../../src/remote/n8n.js";

export const WORKFLOWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../workflows");

export function readManifest(): Manifest {
  return parseManifest(readFileSync(path.join(WORKFLOWS_DIR, "manifest.yml"), "utf8"));
}

export function readTemplate(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(WORKFLOWS_DIR, file), "utf8")) as Record<string, unknown>;
}

export interface DeployInput {
  client: N8nClient;
  credentialIds: BindInput["credentialIds"];
  timezone?: string;
  parameters?: Record<string, string>;
  /** current workflow_deployments rows of the tenant */
  deployed: DeployedWorkflow[];
  force?: boolean;
  /** lets a test change a template before it is bound (a "new version") */
  edit?: (key: string, template: Record<string, unknown>) => Record<string, unknown>;
  dryRun?: boolean;
}

export interface DeployResult {
  plan: PlanItem[];
  /** the rows to record: one per workflow created or updated */
  recorded: DeployedWorkflow[];
  /** the tenant's current rows after this deploy */
  current: DeployedWorkflow[];
  /** manifest key → n8n id */
  ids: Record<string, string>;
}

export async function deployWorkflows(input: DeployInput): Promise<DeployResult> {
  const manifest = readManifest();
  const templates = new Map(manifest.workflows.map((w) => [w.key, input.edit ? input.edit(w.key, readTemplate(w.file)) : readTemplate(w.file)]));
  const live = (await input.client.listWorkflows()).map((w) => ({ id: w.id, name: w.name, active: w.active, checksum: checksum(toApiPayload(w)) }));
  const liveIds = new Set(live.map((w) => w.id));
  const ids: Record<string, string> = {};
  for (const d of input.deployed) if (d.n8nId && liveIds.has(d.n8nId)) ids[d.workflowKey] = d.n8nId;

  const bind = (key: string) =>
    bindTemplate(templates.get(key), { credentialIds: input.credentialIds, workflowIds: ids, timezone: input.timezone, parameters: input.parameters });
  const planTemplates = manifest.workflows.map((w) => {
    let sum: string | null;
    try {
      sum = checksum(bind(w.key));
    } catch {
      sum = null; // a workflow it calls has no id yet
    }
    return { key: w.key, name: w.name, version: w.version, calls: w.calls, checksum: sum };
  });
  const plan = planDeploy(planTemplates, input.deployed, live, { force: input.force });
  if (input.dryRun) return { plan, recorded: [], current: input.deployed, ids };

  const recorded: DeployedWorkflow[] = [];
  for (const item of plan) {
    const version = manifest.workflows.find((w) => w.key === item.key)!.version;
    if (item.action === "create" || item.action === "update") {
      const payload = bind(item.key);
      const wf = item.action === "create" ? await input.client.createWorkflow(payload) : await input.client.updateWorkflow(item.id!, payload);
      ids[item.key] = wf.id;
      if (!wf.active) await input.client.activateWorkflow(wf.id);
      recorded.push({ workflowKey: item.key, version, n8nId: wf.id, checksum: checksum(payload) });
    } else if (item.action === "noop" && item.publish) {
      await input.client.activateWorkflow(item.id!);
    }
  }
  const current = [...input.deployed.filter((d) => !recorded.some((r) => r.workflowKey === d.workflowKey)), ...recorded];
  return { plan, recorded, current, ids };
}
