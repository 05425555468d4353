// A node-level diff of two versions of a workflow, readable by an operator: which nodes were
// added, removed or changed (and which of their fields, with code shown line by line), which
// links between nodes appeared or vanished, which settings changed. Compares what the checksum
// covers (checksumView), so positions, node ids and n8n's defaults never show up. Pure.

import { canonicalJson, checksumView, type WorkflowPayload } from "./payload.js";

export interface FieldChange {
  /** e.g. parameters.query, typeVersion, credentials.postgres */
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface NodeChange {
  node: string;
  kind: "added" | "removed" | "changed";
  /** for changed nodes */
  fields: FieldChange[];
}

export interface WorkflowDiff {
  name: FieldChange | null;
  nodes: NodeChange[];
  /** "From[main 0] → To", added or removed */
  links: { link: string; kind: "added" | "removed" }[];
  settings: FieldChange[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Leaves of a value as dotted paths; arrays of scalars and empty containers stay whole. */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isObj(value) && Object.keys(value).length > 0) {
    for (const k of Object.keys(value).sort()) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value) && value.some((v) => typeof v === "object" && v !== null)) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else {
    out.set(prefix, value);
  }
}

function fieldChanges(before: unknown, after: unknown, prefix = ""): FieldChange[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before, prefix, a);
  flatten(after, prefix, b);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: FieldChange[] = [];
  for (const p of paths) {
    const [x, y] = [a.get(p), b.get(p)];
    if (canonicalJson(x) === canonicalJson(y)) continue;
    out.push({ path: p, ...(a.has(p) ? { before: x } : {}), ...(b.has(p) ? { after: y } : {}) });
  }
  return out;
}

function links(connections: Obj): Set<string> {
  const out = new Set<string>();
  for (const [from, byType] of Object.entries(connections)) {
    if (!isObj(byType)) continue;
    for (const [type, outputs] of Object.entries(byType)) {
      if (!Array.isArray(outputs)) continue;
      outputs.forEach((targets, index) => {
        if (!Array.isArray(targets)) return;
        for (const t of targets) {
          const to = isObj(t) ? t : {};
          const port = to.type && to.type !== "main" ? ` [${String(to.type)} ${String(to.index ?? 0)}]` : Number(to.index ?? 0) > 0 ? ` [in ${String(to.index)}]` : "";
          const out0 = type === "main" && index === 0 ? "" : ` [${type} ${index}]`;
          out.add(`${from}${out0} → ${String(to.node)}${port}`);
        }
      });
    }
  }
  return out;
}

export function diffWorkflows(before: WorkflowPayload, after: WorkflowPayload): WorkflowDiff {
  const [vb, va] = [checksumView(before) as Obj, checksumView(after) as Obj];
  const nodesB = new Map((vb.nodes as Obj[]).map((n) => [String(n.name), n]));
  const nodesA = new Map((va.nodes as Obj[]).map((n) => [String(n.name), n]));
  const nodes: NodeChange[] = [];
  for (const [name, n] of nodesB) {
    const m = nodesA.get(name);
    if (!m) nodes.push({ node: name, kind: "removed", fields: [] });
    else {
      const strip = ({ name: _n, ...rest }: Obj) => rest;
      const fields = fieldChanges(strip(n), strip(m));
      if (fields.length) nodes.push({ node: name, kind: "changed", fields });
    }
  }
  for (const name of nodesA.keys()) if (!nodesB.has(name)) nodes.push({ node: name, kind: "added", fields: [] });
  const [lb, la] = [links(vb.connections as Obj), links(va.connections as Obj)];
  return {
    name: vb.name === va.name ? null : { path: "name", before: vb.name, after: va.name },
    nodes,
    links: [...[...lb].filter((l) => !la.has(l)).map((link) => ({ link, kind: "removed" as const })), ...[...la].filter((l) => !lb.has(l)).map((link) => ({ link, kind: "added" as const }))],
    settings: fieldChanges(vb.settings, va.settings, "settings"),
  };
}

export function isEmptyDiff(d: WorkflowDiff): boolean {
  return !d.name && d.nodes.length === 0 && d.links.length === 0 && d.settings.length === 0;
}

const MAX_VALUE = 120;

function show(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : canonicalJson(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

/** Changed lines of two texts (longest common subsequence), with up to `context` lines around. */
export function lineDiff(before: string, after: string, context = 1): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  // Too large for an O(n·m) table: say so rather than stall.
  if (a.length * b.length > 4_000_000) return [`(${a.length} → ${b.length} lines; too long to diff here)`];
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: { op: " " | "-" | "+"; line: string }[] = [];
  let [i, j] = [0, 0];
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ op: " ", line: a[i]! });
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ op: "-", line: a[i++]! });
    } else {
      ops.push({ op: "+", line: b[j++]! });
    }
  }
  const keep = ops.map((o, k) => o.op !== " " || ops.slice(Math.max(0, k - context), k + context + 1).some((x) => x.op !== " "));
  const out: string[] = [];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(`${o.op} ${o.line}`);
    else if (k === 0 || keep[k - 1]) out.push("  …");
  });
  return out;
}

function renderField(f: FieldChange, indent: string): string[] {
  const multiline = typeof f.before === "string" && typeof f.after === "string" && (f.before.includes("\n") || f.after.includes("\n"));
  if (multiline) return [`${indent}${f.path}:`, ...lineDiff(f.before as string, f.after as string).map((l) => `${indent}  ${l}`)];
  if (!("before" in f)) return [`${indent}${f.path}: + ${show(f.after)}`];
  if (!("after" in f)) return [`${indent}${f.path}: - ${show(f.before)}`];
  return [`${indent}${f.path}: ${show(f.before)} → ${show(f.after)}`];
}

/** Lines for a terminal, indented under a heading that names the two sides. */
export function renderDiff(d: WorkflowDiff): string[] {
  const out: string[] = [];
  if (d.name) out.push(...renderField(d.name, "  "));
  for (const n of d.nodes) {
    if (n.kind === "added") out.push(`  + node '${n.node}'`);
    else if (n.kind === "removed") out.push(`  - node '${n.node}'`);
    else {
      out.push(`  ~ node '${n.node}'`);
      for (const f of n.fields) out.push(...renderField(f, "      "));
    }
  }
  for (const l of d.links) out.push(`  ${l.kind === "added" ? "+" : "-"} link ${l.link}`);
  for (const f of d.settings) out.push(...renderField(f, "  ~ "));
  return out;
}
