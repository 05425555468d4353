// `workflows rollback`: which recorded template each workflow of a tenant goes back to. Pure —
// the applier reads the history and the templates, binds and pushes.
//
// The history is a stack: the current row is the newest 'deployed' one; the target is the
// newest older 'deployed' row that carries a stored template different from the current one
// (re-deploys of the same template, e.g. a forced deploy after drift, are not versions). The
// rows from the target (exclusive) to now are marked rolled_back, so a second rollback goes
// one version further back instead of returning to what was just rolled back.

import { createHash } from "node:crypto";
import { deployOrder } from "./manifest.js";
import { canonicalJson, toApiPayload, type WorkflowPayload } from "./payload.js";

/**
 * A template as stored for rollback: the API payload of the unbound template (placeholders
 * and credential names intact) and the sha256 of its canonical JSON, which names it.
 */
export function storedTemplate(raw: unknown): { sha256: string; template: WorkflowPayload } {
  const template = toApiPayload(raw);
  return { sha256: createHash("sha256").update(canonicalJson(template)).digest("hex"), template };
}

export interface HistoryRow {
  id: number;
  workflowKey: string;
  version: string;
  status: "deployed" | "failed" | "rolled_back";
  n8nId: string | null;
  templateSha256: string | null;
}

export interface RollbackStep {
  key: string;
  /** the workflow's id in the tenant's n8n (updated in place) */
  n8nId: string;
  fromVersion: string;
  toVersion: string;
  /** the template to bind and push */
  templateSha256: string;
  /** the row rolled back to */
  targetRowId: number;
  /** rows to mark rolled_back: every 'deployed' row newer than the target */
  supersededRowIds: number[];
}

export interface RollbackPlan {
  steps: RollbackStep[];
  /** workflows with nothing to roll back to, and why */
  unchanged: { key: string; reason: string }[];
}

/**
 * `history`: one tenant's rows, newest first (listWorkflowDeployments order). `workflows`: the
 * manifest's keys with their calls (the order to apply: a sub-workflow before its caller).
 * `only`: restrict to these keys.
 */
export function planRollback(
  history: readonly HistoryRow[],
  workflows: readonly { key: string; calls: string[] }[],
  only?: readonly string[],
): RollbackPlan {
  const plan: RollbackPlan = { steps: [], unchanged: [] };
  const keys = new Set<string>([...workflows.map((w) => w.key), ...history.map((h) => h.workflowKey)]);
  const ordered = deployOrder([...keys].map((k) => ({ key: k, calls: workflows.find((w) => w.key === k)?.calls ?? [] })));
  for (const { key } of ordered) {
    if (only && !only.includes(key)) continue;
    const rows = history.filter((h) => h.workflowKey === key && h.status === "deployed");
    const current = rows[0];
    if (!current) {
      plan.unchanged.push({ key, reason: "never deployed" });
      continue;
    }
    if (!current.n8nId) {
      plan.unchanged.push({ key, reason: "the current deployment has no n8n id" });
      continue;
    }
    if (!current.templateSha256) {
      plan.unchanged.push({ key, reason: `version ${current.version} was deployed before btw kept templates: nothing to compare with` });
      continue;
    }
    const targetIndex = rows.findIndex((r, i) => i > 0 && r.templateSha256 !== null && r.templateSha256 !== current.templateSha256);
    if (targetIndex < 0) {
      plan.unchanged.push({ key, reason: `no earlier version recorded (only ${current.version})` });
      continue;
    }
    const target = rows[targetIndex]!;
    plan.steps.push({
      key,
      n8nId: current.n8nId,
      fromVersion: current.version,
      toVersion: target.version,
      templateSha256: target.templateSha256!,
      targetRowId: target.id,
      supersededRowIds: rows.slice(0, targetIndex).map((r) => r.id),
    });
  }
  return plan;
}
