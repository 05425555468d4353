// The deploy plan for one tenant: per workflow, create | update | noop | drift, in deploy
// order (a workflow after the ones it calls: WF2 before WF1). Pure — the deployer gathers
// the inputs (state rows, the tenant's live workflows with their checksums) and applies it;
// `--dry-run` prints it.

import { deployOrder } from "./manifest.js";

export interface PlanTemplate {
  /** manifest key, e.g. "wf1" */
  key: string;
  /** the workflow's name in n8n (used to adopt a workflow created by a run that crashed before recording it) */
  name: string;
  version: string;
  calls: string[];
  /**
   * checksum of the template bound for this tenant; null when it cannot be bound yet
   * (a workflow it calls has no id in this tenant's n8n so far)
   */
  checksum: string | null;
}

/** A current workflow_deployments row (what btw last pushed). */
export interface DeployedWorkflow {
  workflowKey: string;
  version: string;
  n8nId: string | null;
  checksum: string;
}

/** A workflow as the tenant's n8n has it now, checksummed with checksum(toApiPayload(w)). */
export interface LiveWorkflow {
  id: string;
  name: string;
  checksum: string;
  active: boolean;
}

export type PlanAction = "create" | "update" | "noop" | "drift";

export interface PlanItem {
  key: string;
  action: PlanAction;
  /** the workflow's n8n id (absent for create) */
  id?: string;
  /** version recorded as deployed (absent when never deployed) */
  fromVersion?: string;
  /** template version this plan deploys */
  version: string;
  /** whether the workflow must be published after create/update (or is unpublished now) */
  publish: boolean;
  reason: string;
}

export interface PlanOptions {
  /** overwrite drifted workflows (drift → update) */
  force?: boolean;
}

export function planDeploy(
  templates: readonly PlanTemplate[],
  deployed: readonly DeployedWorkflow[],
  live: readonly LiveWorkflow[],
  opts: PlanOptions = {},
): PlanItem[] {
  const rows = new Map(deployed.map((d) => [d.workflowKey, d]));
  const liveById = new Map(live.map((w) => [w.id, w]));
  const items = new Map<string, PlanItem>();

  for (const t of deployOrder(templates)) {
    const row = rows.get(t.key);
    const current = row?.n8nId ? liveById.get(row.n8nId) : undefined;
    const recreatedCallee = t.calls.find((c) => items.get(c)?.action === "create");
    let item: PlanItem;

    if (!row || !row.n8nId) {
      const sameName = live.filter((w) => w.name === t.name);
      if (sameName.length === 1) {
        const w = sameName[0]!;
        item = { key: t.key, action: "update", id: w.id, version: t.version, publish: true, reason: `adopt the existing workflow '${t.name}' (never recorded)` };
      } else if (sameName.length > 1) {
        item = {
          key: t.key,
          action: "drift",
          version: t.version,
          publish: false,
          reason: `${sameName.length} workflows are named '${t.name}' (${sameName.map((w) => w.id).join(", ")}) and none is recorded: delete the extras`,
        };
      } else {
        item = { key: t.key, action: "create", version: t.version, publish: true, reason: "not deployed yet" };
      }
    } else if (!current) {
      item = { key: t.key, action: "create", fromVersion: row.version, version: t.version, publish: true, reason: `workflow ${row.n8nId} no longer exists in n8n` };
    } else if (current.checksum !== row.checksum) {
      item = opts.force
        ? { key: t.key, action: "update", id: current.id, fromVersion: row.version, version: t.version, publish: true, reason: "overwrite changes made in n8n (forced)" }
        : { key: t.key, action: "drift", id: current.id, fromVersion: row.version, version: t.version, publish: false, reason: "changed in n8n since it was deployed" };
    } else if (recreatedCallee) {
      item = { key: t.key, action: "update", id: current.id, fromVersion: row.version, version: t.version, publish: true, reason: `${recreatedCallee} is re-created: its id changes` };
    } else if (t.checksum === null || t.checksum !== row.checksum || t.version !== row.version) {
      const why = t.version !== row.version ? `version ${row.version} → ${t.version}` : "template changed";
      item = { key: t.key, action: "update", id: current.id, fromVersion: row.version, version: t.version, publish: true, reason: why };
    } else {
      item = {
        key: t.key,
        action: "noop",
        id: current.id,
        fromVersion: row.version,
        version: t.version,
        publish: !current.active,
        reason: current.active ? "up to date" : "up to date but not published",
      };
    }
    items.set(t.key, item);
  }
  return [...items.values()];
}
