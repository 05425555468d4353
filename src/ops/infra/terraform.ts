import { mkdirSync } from "node:fs";
import type { Ctx } from "../../cli/context.js";
import { expandPath } from "../../config/load.js";
import { plannedServerNames } from "../../core/infra/spec.js";
import type { PlanSummary } from "../../core/infra/plan.js";
import {
  backendFor,
  infraPaths,
  initArgs,
  planArgs,
  secretValues,
  showPlanArgs,
  terraformEnv,
  type Backend,
  type InfraPaths,
} from "../../core/infra/terraform.js";
import { ConfigError, ConflictError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { SynthResult } from "../../../stacks/synth.js";

// What every `btw infra` verb, and the edge switch, share: where things live, synthesizing the
// stack (cdktn is loaded here, lazily, and nowhere else in the CLI), running terraform/tofu
// with the secrets in its environment, and the tenant guard in front of anything that deletes.

export interface InfraSetup {
  paths: InfraPaths;
  backend: Backend;
  binary: string;
  /** the provider mirror directory, expanded */
  mirror?: string;
}

export function infraSetup(ctx: Ctx, outdir?: string): InfraSetup {
  const t = ctx.config.terraform;
  const paths = infraPaths(expandPath(t.dir, ctx.env), t.stack, outdir ? expandPath(outdir, ctx.env) : undefined);
  return {
    paths,
    backend: backendFor(ctx.config.database.url, t.pgSchema, paths),
    binary: t.path ? expandPath(t.path, ctx.env) : t.binary,
    ...(t.providerMirror ? { mirror: expandPath(t.providerMirror, ctx.env) } : {}),
  };
}

export interface Synthesized extends SynthResult {
  ms: number;
  userDataBytes: Record<string, number>;
  servers: Array<{ name: string; role: string; serverType: string; privateIp: string }>;
}

export async function synthesize(ctx: Ctx, setup: InfraSetup): Promise<Synthesized> {
  const started = performance.now();
  const { synthFromConfig } = await import("../../../stacks/from-config.js");
  const { userDataBytes } = await import("../../core/infra/cloud-init.js");
  mkdirSync(setup.paths.outdir, { recursive: true });
  const { spec, result } = synthFromConfig(ctx.config, setup.backend, setup.paths.outdir);
  const ms = Math.round(performance.now() - started);
  return {
    ...result,
    ms,
    userDataBytes: Object.fromEntries(spec.servers.map((s) => [s.name, userDataBytes(s.userData)])),
    servers: spec.servers.map((s) => ({ name: s.name, role: s.role, serverType: s.serverType, privateIp: s.privateIp })),
  };
}

export interface RunOpts {
  /** plan/apply/destroy call Hetzner: they need the token */
  token?: boolean;
  /** print terraform's lines on stderr as they come (always with --verbose) */
  stream?: boolean;
}

/** Runs one terraform/tofu command in the stack's directory. */
export async function tf(ctx: Ctx, setup: InfraSetup, args: readonly string[], opts: RunOpts = {}): Promise<{ stdout: string; stderr: string }> {
  const token = opts.token ? requireToken(ctx) : undefined;
  const pgConnStr = setup.backend.type === "pg" ? ctx.config.database.url : undefined;
  mkdirSync(setup.paths.dataDir, { recursive: true });
  const { runTerraform } = await import("../../remote/terraform.js");
  const { HCLOUD_PROVIDER_SOURCE } = await import("../../core/infra/spec.js");
  ctx.out.verbose(`$ ${setup.binary} ${args.join(" ")}   (in ${setup.paths.stackDir})`);
  return runTerraform(args, {
    binary: setup.binary,
    cwd: setup.paths.stackDir,
    env: terraformEnv(ctx.env, { ...(token ? { token } : {}), ...(pgConnStr ? { pgConnStr } : {}), dataDir: setup.paths.dataDir }),
    secrets: secretValues({ ...(token ? { token } : {}), ...(pgConnStr ? { pgConnStr } : {}) }),
    ...(opts.stream || ctx.globals.verbose ? { onLine: (l: string) => ctx.out.info(`  ${l}`) } : {}),
    failure: { binary: setup.binary, provider: HCLOUD_PROVIDER_SOURCE, ...(setup.mirror ? { providerMirror: setup.mirror } : {}) },
  });
}

function requireToken(ctx: Ctx): string {
  const token = ctx.config.hetzner.token;
  if (!token) {
    throw new ConfigError("no Hetzner API token", {
      code: "hcloud-token-missing",
      hint: "export HCLOUD_TOKEN=<a read/write token of the project> (or set hetzner.token in btw.yml)",
    });
  }
  return token;
}

/** Synth, then `init` (idempotent: fast once the provider is installed). `token`: fail first without one. */
export async function prepare(ctx: Ctx, setup: InfraSetup, opts: { token?: boolean } = {}): Promise<Synthesized> {
  if (opts.token) requireToken(ctx);
  const synth = await synthesize(ctx, setup);
  ctx.out.verbose(`synthesized ${synth.stackFile} in ${synth.ms} ms`);
  await tf(ctx, setup, initArgs(setup.mirror ? { pluginDir: setup.mirror } : {}));
  return synth;
}

/** `plan -out`, then reads the saved plan back as JSON. */
export async function savedPlan(ctx: Ctx, setup: InfraSetup, opts: { destroy?: boolean } = {}): Promise<PlanSummary> {
  await tf(ctx, setup, planArgs({ out: setup.paths.planFile, ...(opts.destroy ? { destroy: true } : {}) }), { token: true });
  const shown = await tf(ctx, setup, showPlanArgs(setup.paths.planFile));
  const { summarizePlan } = await import("../../core/infra/plan.js");
  return summarizePlan(shown.stdout);
}

/**
 * Refuses (exit 2) when any of these servers still holds tenants, naming them all. Runs on
 * btw's state alone — before Terraform is even asked — so it holds without Hetzner too.
 */
export async function refuseServersWithTenants(db: Db, serverNames: readonly string[], what: string): Promise<void> {
  const { getServerByName } = await import("../../state/servers.js");
  const { listTenants } = await import("../../state/tenants.js");
  const held: string[] = [];
  for (const name of [...new Set(serverNames)].sort()) {
    const server = await getServerByName(db, name);
    if (!server) continue;
    const tenants = await listTenants(db, { serverId: server.id });
    if (tenants.length) held.push(`${name} (${tenants.map((t) => t.slug).join(", ")})`);
  }
  if (held.length) {
    throw new ConflictError(`refusing to ${what}: ${held.length === 1 ? "a server still holds" : "servers still hold"} tenants: ${held.join("; ")}`, {
      code: "server-not-empty",
      hint: "move the tenants to another server (`btw tenant migrate <name> --to <server>`) or delete them first",
    });
  }
}

/** Servers this stack manages according to btw: the config's names and registered ones it made. */
export async function stackServerNames(ctx: Ctx, db: Db): Promise<string[]> {
  const { listServers } = await import("../../state/servers.js");
  const planned = plannedServerNames(ctx.config).map((s) => s.name);
  const prefix = `${ctx.config.hetzner.namePrefix}-`;
  const made = (await listServers(db)).filter((s) => s.providerId !== null && s.name.startsWith(prefix)).map((s) => s.name);
  return [...new Set([...planned, ...made])];
}

/** One lock for all `infra` mutations (Terraform's own state lock covers Terraform; this covers btw's state). */
export async function withInfraLock<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const lock = await db.lock({ kind: "bulk", name: "infra" }, { timeoutMs: 0 });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
