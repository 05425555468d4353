import { composeVersion, dockerEngineVersion, hostFacts, parseHostFacts } from "../core/commands/index.js";
import type { ServerProbe } from "../core/server/readiness.js";
import type { SshClient } from "./ssh.js";

/** Looks at a server over one SSH connection: host facts, Docker engine, Compose v2. */
export async function probeServer(ssh: SshClient): Promise<ServerProbe> {
  await ssh.connect(); // one master; the three probes below share it
  const [facts, engine, compose] = await Promise.all([
    ssh.run(hostFacts(), { timeoutMs: 20_000 }),
    ssh.run(dockerEngineVersion(), { allowFailure: true, timeoutMs: 20_000 }),
    ssh.run(composeVersion(), { allowFailure: true, timeoutMs: 20_000 }),
  ]);
  const engineOk = engine.exitCode === 0 && engine.stdout.trim() !== "";
  return {
    facts: parseHostFacts(facts.stdout),
    engineVersion: engineOk ? engine.stdout.trim() : null,
    ...(engineOk ? {} : { engineError: lastLine(engine.stderr) || `exit ${engine.exitCode}` }),
    composeVersion: compose.exitCode === 0 ? compose.stdout.trim() || null : null,
  };
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop()?.trim().slice(0, 160) ?? "";
}
