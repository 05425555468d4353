import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { NotFoundError } from "../../errors.js";
import { judgeServer, type ServerProbe, type Verdict } from "../../core/server/readiness.js";
import type { Queryable } from "../../state/db.js";
import type { ServerRow, ServerStatus } from "../../state/servers.js";
import type { SshClient } from "../../remote/ssh.js";

/**
 * One SSH client per server for this command; its master connection closes with the command.
 * Host keys come from the state: a first contact pins them there, then this process's
 * known_hosts file is rendered from every pin and ssh accepts no other key.
 */
export async function sshFor(ctx: Ctx, s: Pick<ServerRow, "name" | "host" | "port" | "sshUser" | "sshKeyPath">): Promise<SshClient> {
  const { SshClient, defaultControlDir } = await import("../../remote/ssh.js");
  // A control directory per process: a master is never shared between two btw processes, so
  // one finishing (`ssh -O exit`) cannot cut another's sessions or tunnels.
  const controlDir = join(defaultControlDir(), String(process.pid));
  const db = await ctx.db();
  const { ensureHostPinned, renderKnownHostsFile } = await import("../../ops/host-keys.js");
  const { ensurePrivateDir } = await import("../../remote/private-dir.js");
  await ensureHostPinned(ctx, db, s);
  ensurePrivateDir(controlDir);
  const knownHostsFile = join(controlDir, "known_hosts");
  await renderKnownHostsFile(db, knownHostsFile);
  const identityFile = s.sshKeyPath ?? ctx.config.ssh.identityFile;
  const client = new SshClient({
    name: s.name,
    host: s.host,
    port: s.port,
    user: s.sshUser,
    ...(identityFile ? { identityFile } : {}),
    knownHostsFile,
    strictHostKeys: true,
    controlDir,
    connectTimeoutSec: ctx.config.ssh.connectTimeoutSec,
  });
  ctx.onClose(async () => {
    await client.close();
    rmSync(controlDir, { recursive: true, force: true });
  });
  return client;
}

export async function requireServer(q: Queryable, name: string): Promise<ServerRow> {
  const { getServerByName } = await import("../../state/servers.js");
  const s = await getServerByName(q, name);
  if (!s) throw new NotFoundError("server", name, { hint: "`btw server list` shows the registered servers" });
  return s;
}

export interface CheckResult {
  server: string;
  status: ServerStatus;
  verdict: Verdict | null;
  facts: Record<string, unknown> | null;
  error: string | null;
  /** the typed error behind `error`, to rethrow when a single server was asked for */
  cause?: unknown;
}

/**
 * What a probe and its verdict record in `servers.facts`. `isolation` (the state of the tenant
 * isolation rules it saw) is what placement reads: a server takes tenants only once a check
 * found its rules installed (core/server/isolation-check.ts isolationInPlace).
 */
export function factsOf(probe: ServerProbe, verdict: Verdict): Record<string, unknown> {
  return {
    ...probe.facts,
    engineVersion: probe.engineVersion ?? undefined,
    composeVersion: probe.composeVersion ?? undefined,
    verdict: verdict.status,
    problems: verdict.problems,
    ...(verdict.isolation ? { isolation: verdict.isolation.state } : {}),
  };
}

/** Probes one server (its isolation rules included) and records what it saw; a failure is recorded as `unreachable`. */
export async function checkAndRecord(ctx: Ctx, q: Queryable, s: ServerRow): Promise<CheckResult> {
  const { updateServerFacts, updateServerStatus } = await import("../../state/servers.js");
  const { probeServer } = await import("../../remote/probe-server.js");
  const { expectedIsolation } = await import("../../ops/server/isolation.js");
  try {
    const expected = await expectedIsolation(q, ctx.config, s);
    const probe = await probeServer(await sshFor(ctx, s), { isolation: expected !== null });
    const verdict = judgeServer(s.name, probe, expected);
    const facts = factsOf(probe, verdict);
    // draining is the operator's decision: a check never undoes it
    const status: ServerStatus = s.status === "draining" ? "draining" : verdict.status === "needs-bootstrap" ? "new" : "active";
    await updateServerFacts(q, s.id, facts);
    if (status !== s.status) await updateServerStatus(q, s.id, status);
    return { server: s.name, status, verdict, facts, error: null };
  } catch (e) {
    if (s.status !== "unreachable") await updateServerStatus(q, s.id, "unreachable");
    return { server: s.name, status: "unreachable", verdict: null, facts: null, error: (e as Error).message, cause: e };
  }
}

export function bytes(n: unknown): string {
  if (typeof n !== "number") return "-";
  const gib = n / 1024 ** 3;
  return gib >= 1 ? `${gib.toFixed(1)}G` : `${(n / 1024 ** 2).toFixed(0)}M`;
}
