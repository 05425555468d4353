import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { parseManifest, templateProblems, type Manifest } from "../../core/workflows/index.js";
import { ConfigError } from "../../errors.js";
import { asset } from "../assets.js";

// Where the workflow templates come from: the ones shipped with btw (workflows/), or another
// directory with the same layout (manifest.yml + the JSON files it names) given by
// --workflows-dir or BTW_WORKFLOWS_DIR — to try a new version on one tenant before it ships.
// Everything is read and checked once, before any tenant is touched.

export interface WorkflowSource {
  /** "shipped" or the directory's absolute path */
  origin: string;
  manifest: Manifest;
  /** manifest key → the template as parsed JSON */
  templates: Map<string, unknown>;
}

export function workflowsDirOption(opts: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const dir = (opts.workflowsDir as string | undefined) ?? env.BTW_WORKFLOWS_DIR;
  if (!dir) return undefined;
  return isAbsolute(dir) ? dir : resolve(cwd, dir);
}

export function loadWorkflowSource(dir?: string): WorkflowSource {
  const read = (file: string, what: string): string => {
    if (!dir) return asset(`workflows/${file}`);
    const path = join(dir, file);
    if (!existsSync(path)) throw new ConfigError(`${what} ${path} does not exist`, { code: "workflow-source", hint: "--workflows-dir must hold manifest.yml and the templates it names" });
    return readFileSync(path, "utf8");
  };
  const origin = dir ?? "shipped";
  const manifest = parseManifest(read("manifest.yml", "the manifest"), dir ? join(dir, "manifest.yml") : "workflows/manifest.yml");
  const templates = new Map<string, unknown>();
  const problems: string[] = [];
  for (const w of manifest.workflows) {
    let raw: unknown;
    try {
      raw = JSON.parse(read(w.file, "the template"));
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      problems.push(`${w.file}: not valid JSON (${(e as Error).message})`);
      continue;
    }
    problems.push(...templateProblems(w, manifest, raw));
    templates.set(w.key, raw);
  }
  if (problems.length) {
    throw new ConfigError(`the workflow templates (${origin}) have ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`, {
      code: "workflow-template",
      hint: "fix the templates; nothing was deployed",
    });
  }
  return { origin, manifest, templates };
}

/** manifest key → version */
export function targetVersions(source: WorkflowSource): Record<string, string> {
  return Object.fromEntries(source.manifest.workflows.map((w) => [w.key, w.version]));
}
