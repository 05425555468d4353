// Templates (workflows/WF*.json) are checked against their manifest entry and then bound to
// one tenant: credential ids by name, other workflows' ids, per-tenant parameters, timezone.
// Pure.

import { OperationError } from "../../errors.js";
import type { Manifest, ManifestWorkflow } from "./manifest.js";
import { toApiPayload, type WorkflowPayload } from "./payload.js";

/** Whole-string placeholders a template may hold; see workflows/manifest.yml. */
export const WORKFLOW_PLACEHOLDER = /^btw:workflow:([a-z][a-z0-9-]{0,31})$/;
export const PARAM_PLACEHOLDER = /^btw:param:([a-zA-Z][a-zA-Z0-9]{0,63})$/;
const ANY_PLACEHOLDER = /^btw:/;

export interface BindInput {
  /** credential name → the tenant's credential {id, name} */
  credentialIds: Record<string, { id: string; name: string }>;
  /** manifest key (wf2) → that workflow's id in the tenant's n8n */
  workflowIds?: Record<string, string>;
  /** IANA zone for the schedule triggers (settings.timezone); n8n's GENERIC_TIMEZONE when absent */
  timezone?: string;
  /** per-tenant values for btw:param:<name> */
  parameters?: Record<string, string>;
  /** cron expressions replacing its Schedule Trigger's intervals (a plan-driven schedule) */
  schedule?: readonly string[];
}

const SCHEDULE_TRIGGER = "n8n-nodes-base.scheduleTrigger";

/** Every string inside a value, with a callback that may replace it. */
function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, f);
    return out;
  }
  return value;
}

function placeholdersIn(payload: WorkflowPayload): { workflows: Set<string>; params: Set<string>; unknown: Set<string> } {
  const found = { workflows: new Set<string>(), params: new Set<string>(), unknown: new Set<string>() };
  for (const n of payload.nodes) {
    mapStrings(n.parameters, (s) => {
      const w = WORKFLOW_PLACEHOLDER.exec(s);
      const p = PARAM_PLACEHOLDER.exec(s);
      if (w) found.workflows.add(w[1]!);
      else if (p) found.params.add(p[1]!);
      else if (ANY_PLACEHOLDER.test(s)) found.unknown.add(s);
      return s;
    });
  }
  return found;
}

/**
 * Problems with a template against its manifest entry: name, node/connection consistency,
 * credentials used ⇔ declared (with the declared type), placeholders used ⇔ declared, and
 * nothing tenant-specific (no credential ids, no timezone). Empty when the template is fine.
 */
export function templateProblems(entry: ManifestWorkflow, manifest: Manifest, raw: unknown): string[] {
  const where = `${entry.file}`;
  let payload: WorkflowPayload;
  try {
    payload = toApiPayload(raw);
  } catch (e) {
    return [`${where}: ${(e as Error).message}`];
  }
  const problems: string[] = [];
  if (payload.name !== entry.name) problems.push(`${where}: name is '${payload.name}' but the manifest says '${entry.name}'`);

  const names = new Set<string>();
  for (const n of payload.nodes) {
    if (typeof n.name !== "string" || !n.name) problems.push(`${where}: a node has no name`);
    else if (names.has(n.name)) problems.push(`${where}: two nodes are named '${n.name}'`);
    names.add(n.name);
    if (typeof n.type !== "string" || typeof n.typeVersion !== "number") problems.push(`${where}: node '${n.name}' needs type and typeVersion`);
  }
  for (const [from, byType] of Object.entries(payload.connections)) {
    if (!names.has(from)) problems.push(`${where}: connections start at unknown node '${from}'`);
    for (const outs of Object.values(byType as Record<string, unknown>)) {
      for (const out of (outs as unknown[][]) ?? []) {
        for (const link of out ?? []) {
          const to = (link as { node?: string }).node;
          if (!to || !names.has(to)) problems.push(`${where}: connection from '${from}' goes to unknown node '${to}'`);
        }
      }
    }
  }

  const declaredTypes = new Map(manifest.credentials.map((c) => [c.name, c.type]));
  const used = new Set<string>();
  for (const n of payload.nodes) {
    for (const [type, ref] of Object.entries(n.credentials ?? {})) {
      used.add(ref.name);
      if (!entry.credentials.includes(ref.name)) problems.push(`${where}: node '${n.name}' uses credential '${ref.name}', not listed for ${entry.key} in the manifest`);
      const declared = declaredTypes.get(ref.name);
      if (declared && declared !== type) problems.push(`${where}: node '${n.name}' uses '${ref.name}' as ${type}, the manifest says ${declared}`);
      if (ref.id) problems.push(`${where}: node '${n.name}' holds credential id '${ref.id}': templates reference credentials by name only`);
    }
  }
  for (const c of entry.credentials) if (!used.has(c)) problems.push(`${where}: credential '${c}' is listed in the manifest but no node uses it`);

  const ph = placeholdersIn(payload);
  for (const w of ph.workflows) if (!entry.calls.includes(w)) problems.push(`${where}: btw:workflow:${w} is used but '${w}' is not in ${entry.key}.calls`);
  for (const c of entry.calls) if (!ph.workflows.has(c)) problems.push(`${where}: ${entry.key}.calls lists '${c}' but no node holds btw:workflow:${c}`);
  for (const p of ph.params) if (!entry.parameters.includes(p)) problems.push(`${where}: btw:param:${p} is used but not in ${entry.key}.parameters`);
  for (const p of entry.parameters) if (!ph.params.has(p)) problems.push(`${where}: ${entry.key}.parameters lists '${p}' but no node holds btw:param:${p}`);
  for (const u of ph.unknown) problems.push(`${where}: unknown placeholder '${u}'`);

  if (payload.settings.timezone !== undefined) problems.push(`${where}: settings.timezone is set at deploy (the tenant's zone), not in the template`);
  if (!payload.nodes.some((n) => n.name === entry.trigger)) problems.push(`${where}: trigger node '${entry.trigger}' (manifest) does not exist`);
  return problems;
}

/**
 * The template as this tenant's payload: credential ids filled in by credential name,
 * btw:workflow:<key> → workflowIds[key], btw:param:<name> → parameters[name],
 * settings.timezone. Throws (listing everything missing) rather than send a half-bound workflow.
 */
export function bindTemplate(template: unknown, input: BindInput): WorkflowPayload {
  const payload = toApiPayload(template);
  const missing: string[] = [];
  for (const n of payload.nodes) {
    for (const [type, ref] of Object.entries(n.credentials ?? {})) {
      const bound = input.credentialIds[ref.name];
      if (!bound) missing.push(`credential '${ref.name}'`);
      else n.credentials![type] = { id: bound.id, name: bound.name };
    }
    n.parameters = mapStrings(n.parameters, (s) => {
      const w = WORKFLOW_PLACEHOLDER.exec(s);
      if (w) {
        const id = input.workflowIds?.[w[1]!];
        if (!id) missing.push(`workflow id of ${w[1]}`);
        return id ?? s;
      }
      const p = PARAM_PLACEHOLDER.exec(s);
      if (p) {
        const v = input.parameters?.[p[1]!];
        if (v === undefined || v === "") missing.push(`parameter ${p[1]}`);
        return v || s;
      }
      if (ANY_PLACEHOLDER.test(s)) missing.push(`a value for unknown placeholder '${s}'`);
      return s;
    }) as Record<string, unknown>;
  }
  if (missing.length) {
    const list = [...new Set(missing)];
    throw new OperationError(`cannot bind workflow '${payload.name}': missing ${list.join(", ")}`, {
      code: "workflow-bind",
      hint: "create the tenant's credentials (and the workflows this one calls) before deploying it",
      details: { workflow: payload.name, missing: list },
    });
  }
  if (input.schedule) {
    const triggers = payload.nodes.filter((n) => n.type === SCHEDULE_TRIGGER);
    if (triggers.length !== 1) {
      throw new OperationError(`cannot bind workflow '${payload.name}': a plan-driven schedule needs exactly one Schedule Trigger, it has ${triggers.length}`, { code: "workflow-bind" });
    }
    triggers[0]!.parameters = { ...triggers[0]!.parameters, rule: { interval: input.schedule.map((expression) => ({ field: "cronExpression", expression })) } };
  }
  if (input.timezone) payload.settings.timezone = input.timezone;
  return payload;
}
