// How btw runs `terraform` (or `tofu`): paths, backend, arguments and environment, built by
// pure functions so each is tested by equality. Secrets — the Hetzner token, the database
// URL for the pg backend — travel only in the environment, never in argv or files.

import { join } from "node:path";

export interface InfraPaths {
  /** terraform.dir, e.g. $BTW_HOME/infra */
  root: string;
  /** cdktn's outdir: manifest.json and stacks/<stack>/cdk.tf.json */
  outdir: string;
  manifest: string;
  /** Terraform's working directory (holds cdk.tf.json and .terraform.lock.hcl) */
  stackDir: string;
  /** TF_DATA_DIR: providers and backend settings, outside the synth output */
  dataDir: string;
  /** saved plans, applied by `apply <file>` so what was shown is what runs */
  planFile: string;
  /** the local backend's state file (unused with the pg backend) */
  localState: string;
}

export function infraPaths(root: string, stack: string, outdir?: string): InfraPaths {
  const out = outdir ?? join(root, "cdktf.out");
  return {
    root,
    outdir: out,
    manifest: join(out, "manifest.json"),
    stackDir: join(out, "stacks", stack),
    dataDir: join(root, "terraform", stack),
    planFile: join(root, "terraform", stack, "btw.tfplan"),
    localState: join(root, "state", `${stack}.tfstate`),
  };
}

export type Backend = { type: "local"; path: string } | { type: "pg"; schemaName: string };

/** Local state under the infra dir; the central Postgres when the state store is one. */
export function backendFor(databaseUrl: string | undefined, pgSchema: string, paths: InfraPaths): Backend {
  return databaseUrl ? { type: "pg", schemaName: pgSchema } : { type: "local", path: paths.localState };
}

const COMMON = ["-input=false", "-no-color"];

export function initArgs(opts: { pluginDir?: string } = {}): string[] {
  // -plugin-dir: install providers only from that directory, never from a registry.
  return ["init", ...COMMON, ...(opts.pluginDir ? [`-plugin-dir=${opts.pluginDir}`] : [])];
}

export function planArgs(opts: { out: string; destroy?: boolean }): string[] {
  return ["plan", ...COMMON, "-lock-timeout=60s", ...(opts.destroy ? ["-destroy"] : []), `-out=${opts.out}`];
}

/** Applies a saved plan: exactly the changes that were shown, nothing planned anew. */
export function applyArgs(planFile: string): string[] {
  return ["apply", ...COMMON, "-lock-timeout=60s", "-auto-approve", planFile];
}

export function showPlanArgs(planFile: string): string[] {
  return ["show", "-json", "-no-color", planFile];
}

export function outputArgs(): string[] {
  return ["output", "-json", "-no-color"];
}

export interface TerraformEnvInput {
  /** the Hetzner API token (HCLOUD_TOKEN); omitted for commands that do not call Hetzner */
  token?: string;
  /** the pg backend's connection string (PG_CONN_STR) */
  pgConnStr?: string;
  dataDir: string;
}

/** Variables of btw's own that Terraform and its providers must not see. */
export const WITHHELD_ENV = ["BTW_MASTER_KEY", "BTW_DATABASE_URL", "DATABASE_URL", "PG_CONN_STR", "HCLOUD_TOKEN"] as const;

/**
 * The child's environment: the operator's (PATH, proxies, TF_CLI_CONFIG_FILE…) minus btw's
 * secrets, plus exactly the secrets this run needs, non-interactive and without the
 * version check that would call checkpoint-api.hashicorp.com.
 */
export function terraformEnv(parent: Readonly<Record<string, string | undefined>>, input: TerraformEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v !== undefined && !(WITHHELD_ENV as readonly string[]).includes(k)) env[k] = v;
  }
  env.TF_IN_AUTOMATION = "1";
  env.TF_INPUT = "0";
  env.CHECKPOINT_DISABLE = "1";
  env.TF_DATA_DIR = input.dataDir;
  if (input.token) env.HCLOUD_TOKEN = input.token;
  if (input.pgConnStr) env.PG_CONN_STR = input.pgConnStr;
  return env;
}

/** The values that must never appear in what btw prints: the secrets and a URL's password. */
export function secretValues(input: Pick<TerraformEnvInput, "token" | "pgConnStr">): string[] {
  const out: string[] = [];
  if (input.token) out.push(input.token);
  if (input.pgConnStr) {
    out.push(input.pgConnStr);
    try {
      const password = new URL(input.pgConnStr).password;
      if (password) out.push(password, decodeURIComponent(password));
    } catch {
      // not a URL: the whole string is already listed
    }
  }
  // longest first, so a secret that contains another is replaced whole
  return [...new Set(out.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("[REDACTED]");
  return out;
}
