// What goes over the wire to n8n's public API, and a checksum of it that survives the round
// trip through n8n (for drift detection). Pure.
//
// POST/PUT /api/v1/workflows accept exactly name, nodes, connections, settings (+staticData)
// and reject everything else an export or a GET carries (id, active, versionId, tags, meta,
// pinData, shared, activeVersion, …). Nodes and settings are closed objects too
// (additionalProperties: false in n8n 2.8.4's openapi.yml).

import { createHash } from "node:crypto";

export interface WorkflowNode {
  id?: string;
  name: string;
  type: string;
  typeVersion: number;
  position: number[];
  parameters: Record<string, unknown>;
  credentials?: Record<string, { id?: string; name: string }>;
  [key: string]: unknown;
}

export interface WorkflowPayload {
  name: string;
  nodes: WorkflowNode[];
  connections: Record<string, unknown>;
  settings: Record<string, unknown>;
  staticData?: Record<string, unknown> | null;
}

/** Node keys the public API accepts (openapi `node`, minus read-only createdAt/updatedAt). */
export const NODE_KEYS = [
  "id", "name", "webhookId", "disabled", "notesInFlow", "notes", "type", "typeVersion", "executeOnce",
  "alwaysOutputData", "retryOnFail", "maxTries", "waitBetweenTries", "continueOnFail", "onError",
  "position", "parameters", "credentials",
] as const;

/** Settings keys the public API accepts (openapi `workflowSettings`, n8n 2.8.4). */
export const SETTINGS_KEYS = [
  "saveExecutionProgress", "saveManualExecutions", "saveDataErrorExecution", "saveDataSuccessExecution",
  "executionTimeout", "errorWorkflow", "timezone", "executionOrder", "callerPolicy", "callerIds",
  "timeSavedPerExecution", "availableInMCP",
] as const;

/** Settings n8n adds on create when absent; ignored by the checksum so they never read as drift. */
const SETTINGS_DEFAULTS: Record<string, unknown> = { callerPolicy: "workflowsFromSameOwner", availableInMCP: false };

/** Node fields that are false/absent by default; a `false` is dropped before checksumming. */
const NODE_FLAGS = ["disabled", "notesInFlow", "executeOnce", "alwaysOutputData", "retryOnFail", "continueOnFail"];

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * An exported workflow (a template file, `n8n export:workflow`, or a GET answer) stripped to
 * what POST/PUT /api/v1/workflows accept. Returns fresh objects; the input is not modified.
 */
export function toApiPayload(exported: unknown): WorkflowPayload {
  if (!isRecord(exported)) throw new TypeError("a workflow must be a JSON object");
  const { name, nodes, connections, settings, staticData } = exported;
  if (typeof name !== "string" || name === "") throw new TypeError("a workflow needs a non-empty name");
  if (!Array.isArray(nodes)) throw new TypeError(`workflow '${name}': nodes must be an array`);
  const payload: WorkflowPayload = {
    name,
    nodes: nodes.map((n) => structuredClone(pick(n as Record<string, unknown>, NODE_KEYS)) as WorkflowNode),
    connections: isRecord(connections) ? structuredClone(connections) : {},
    settings: isRecord(settings) ? structuredClone(pick(settings, SETTINGS_KEYS)) : {},
  };
  if (isRecord(staticData)) payload.staticData = structuredClone(staticData);
  return payload;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * What the checksum covers: name, nodes by name (type, version, parameters, credentials,
 * behaviour flags), connections and settings. Left out because n8n or the editor changes
 * them without changing behaviour: node ids and webhookIds (n8n assigns them), positions
 * (dragging a node), staticData (triggers keep run state there), settings equal to n8n's
 * defaults, and false-valued node flags.
 */
export function checksumView(payload: WorkflowPayload): unknown {
  const nodes = [...payload.nodes]
    .map((n) => {
      const v = pick(n, NODE_KEYS);
      delete v.id;
      delete v.webhookId;
      delete v.position;
      for (const f of NODE_FLAGS) if (v[f] === false) delete v[f];
      if (v.notes === "") delete v.notes;
      if (isRecord(v.credentials) && Object.keys(v.credentials).length === 0) delete v.credentials;
      return v;
    })
    .sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
  const settings = pick(payload.settings ?? {}, SETTINGS_KEYS);
  for (const [k, d] of Object.entries(SETTINGS_DEFAULTS)) if (settings[k] === d) delete settings[k];
  const connections: Record<string, unknown> = {};
  for (const [from, byType] of Object.entries(payload.connections ?? {})) {
    // an editor may leave {"main": [[]]} behind a deleted link: no link, no difference
    if (isRecord(byType) && Object.values(byType).every((outs) => Array.isArray(outs) && outs.every((o) => !Array.isArray(o) || o.length === 0))) continue;
    connections[from] = byType;
  }
  return { name: payload.name, nodes, connections, settings };
}

/** sha256 (hex) of the canonical checksum view; stable across key order and n8n round trips. */
export function checksum(payload: WorkflowPayload): string {
  return createHash("sha256").update(canonicalJson(checksumView(payload))).digest("hex");
}
