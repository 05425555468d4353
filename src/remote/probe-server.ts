import { composeVersion, dockerEngineVersion, hostFacts, parseHostFacts } from "../core/commands/index.js";
import { isolationLiveCommand } from "../core/server/isolation-check.js";
import type { ServerProbe } from "../core/server/readiness.js";
import type { SshClient } from "./ssh.js";

/**
 * Looks at a server over one SSH connection: host facts, Docker engine, Compose v2 and, with
 * `isolation`, the live filter table (the tenant isolation rules, read only).
 */
export async function probeServer(ssh: SshClient, opts: { isolation?: boolean } = {}): Promise<ServerProbe> {
  await ssh.connect(); // one master; the probes below share it
  const [facts, engine, compose, isolation] = await Promise.all([
    ssh.run(hostFacts(), { timeoutMs: 20_000 }),
    ssh.run(dockerEngineVersion(), { allowFailure: true, timeoutMs: 20_000 }),
    ssh.run(composeVersion(), { allowFailure: true, timeoutMs: 20_000 }),
    opts.isolation ? readIsolation(ssh) : undefined,
  ]);
  const engineOk = engine.exitCode === 0 && engine.stdout.trim() !== "";
  return {
    facts: parseHostFacts(facts.stdout),
    engineVersion: engineOk ? engine.stdout.trim() : null,
    ...(engineOk ? {} : { engineError: lastLine(engine.stderr) || `exit ${engine.exitCode}` }),
    composeVersion: compose.exitCode === 0 ? compose.stdout.trim() || null : null,
    ...(isolation ? { isolation } : {}),
  };
}

/** The live filter table (`status`, `doctor` and readiness compare it with the rendered rules). */
export async function readIsolation(ssh: SshClient): Promise<{ saved: string } | { error: string }> {
  const r = await ssh.run(isolationLiveCommand(), { allowFailure: true, timeoutMs: 30_000 });
  return r.exitCode === 0 ? { saved: r.stdout } : { error: lastLine(r.stderr) || `exit ${r.exitCode}` };
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop()?.trim().slice(0, 160) ?? "";
}
