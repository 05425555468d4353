// workflows/manifest.yml: which templates exist, their versions, the credentials each needs,
// which other workflows it calls, per-tenant parameters and a changelog. Pure: takes the
// file's text, returns the parsed manifest or a ConfigError listing every problem.

import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../../errors.js";

const KEY = /^[a-z][a-z0-9-]{0,31}$/;
const PARAM = /^[a-zA-Z][a-zA-Z0-9]{0,63}$/;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** A version is a positive integer or a semver string; kept as text (workflow_deployments.version). */
const version = z.union([z.number().int().positive(), z.string().regex(SEMVER, "must be an integer or semver like 1.2.0")]).transform(String);

const credential = z
  .object({
    type: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, "must be an n8n credential type like openAiApi"),
    description: z.string().optional(),
  })
  .strict();

const changelogEntry = z.object({ version, date: z.string().optional(), changes: z.array(z.string().min(1)).min(1) }).strict();

const workflow = z
  .object({
    /** the workflow's name in n8n; must equal the template's `name` */
    name: z.string().min(1),
    file: z.string().regex(/^[A-Za-z0-9_.-]+\.json$/, "must be a .json file name inside workflows/"),
    version,
    credentials: z.array(z.string().min(1)).default([]),
    calls: z.array(z.string().regex(KEY)).default([]),
    parameters: z.array(z.string().regex(PARAM, "must be a name like wordpressUrl")).default([]),
    /** the node a manual run starts from (tests, `workflows run`) */
    trigger: z.string().min(1),
    /** `articlesPerWeek`: its Schedule Trigger follows the tenant's plan (core/workflows/schedule.ts) */
    schedule: z.enum(["articlesPerWeek"]).optional(),
    changelog: z.array(changelogEntry).min(1),
  })
  .strict();

const manifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    credentials: z.record(z.string().min(1), credential),
    workflows: z.record(z.string().regex(KEY, "workflow keys look like wf1"), workflow),
  })
  .strict();

export interface ManifestCredential {
  name: string;
  type: string;
  description?: string;
}

export interface ManifestWorkflow {
  key: string;
  name: string;
  file: string;
  version: string;
  credentials: string[];
  calls: string[];
  parameters: string[];
  trigger: string;
  schedule?: "articlesPerWeek";
  changelog: { version: string; date?: string; changes: string[] }[];
}

export interface Manifest {
  credentials: ManifestCredential[];
  /** in the file's order */
  workflows: ManifestWorkflow[];
}

/** Cross-field rules zod cannot express; every problem, not just the first. */
function crossCheck(m: Manifest): string[] {
  const problems: string[] = [];
  const credNames = new Set(m.credentials.map((c) => c.name));
  const keys = new Set(m.workflows.map((w) => w.key));
  const names = new Map<string, string>();
  const files = new Map<string, string>();
  for (const w of m.workflows) {
    for (const c of w.credentials) if (!credNames.has(c)) problems.push(`workflows.${w.key}.credentials: '${c}' is not listed under credentials`);
    for (const c of w.calls) {
      if (!keys.has(c)) problems.push(`workflows.${w.key}.calls: '${c}' is not a workflow in this manifest`);
      if (c === w.key) problems.push(`workflows.${w.key}.calls: a workflow cannot call itself`);
    }
    const head = w.changelog[0];
    if (head && head.version !== w.version) problems.push(`workflows.${w.key}.changelog: the first (newest) entry must be version ${w.version}, not ${head.version}`);
    const seen = new Set<string>();
    for (const e of w.changelog) {
      if (seen.has(e.version)) problems.push(`workflows.${w.key}.changelog: version ${e.version} appears twice`);
      seen.add(e.version);
    }
    const other = names.get(w.name);
    if (other) problems.push(`workflows.${w.key}.name: '${w.name}' is also ${other}'s name`);
    names.set(w.name, w.key);
    const otherFile = files.get(w.file);
    if (otherFile) problems.push(`workflows.${w.key}.file: ${w.file} is also ${otherFile}'s file`);
    files.set(w.file, w.key);
  }
  try {
    deployOrder(m.workflows);
  } catch (e) {
    problems.push((e as Error).message);
  }
  return problems;
}

/** Parses and validates manifest.yml's text. `source` names the file in messages. */
export function parseManifest(text: string, source = "workflows/manifest.yml"): Manifest {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${source} is not valid YAML: ${(e as Error).message.split("\n")[0]}`, { code: "workflow-manifest" });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new ConfigError(`${source} has ${problems.length} error${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`, {
      code: "workflow-manifest",
    });
  }
  const m: Manifest = {
    credentials: Object.entries(parsed.data.credentials).map(([name, c]) => ({ name, ...c })),
    workflows: Object.entries(parsed.data.workflows).map(([key, w]) => ({ key, ...w })),
  };
  const problems = crossCheck(m);
  if (problems.length) {
    throw new ConfigError(`${source} has ${problems.length} error${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`, {
      code: "workflow-manifest",
    });
  }
  return m;
}

/**
 * Workflows in the order they must be deployed: every workflow after the ones it calls
 * (WF2 before WF1 — n8n refuses to publish a caller before its sub-workflow), otherwise in
 * the manifest's order. Throws on a cycle.
 */
export function deployOrder<W extends { key: string; calls: string[] }>(workflows: readonly W[]): W[] {
  const byKey = new Map(workflows.map((w) => [w.key, w]));
  const out: W[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (w: W, path: string[]): void => {
    const s = state.get(w.key);
    if (s === "done") return;
    if (s === "visiting") throw new Error(`workflows: calls form a cycle: ${[...path, w.key].join(" -> ")}`);
    state.set(w.key, "visiting");
    for (const c of w.calls) {
      const callee = byKey.get(c);
      if (callee) visit(callee, [...path, w.key]);
    }
    state.set(w.key, "done");
    out.push(w);
  };
  for (const w of workflows) visit(w, []);
  return out;
}
