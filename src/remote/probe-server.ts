import { composeVersion, dockerEngineVersion, dockerSecurityOptions, hostFacts, parseHostFacts, parseUsernsRemap } from "../core/commands/index.js";
import { NO_ROUTE_RESULT, parseRouteProbe, routeProbe, ROUTE_PROBE_PARALLEL, ROUTE_PROBE_TIMEOUT_SEC, type RouteAnswer, type RouteProbeTarget } from "../core/commands/route-probe.js";
import { isolationLiveCommand } from "../core/server/isolation-check.js";
import type { ServerProbe } from "../core/server/readiness.js";
import type { SshClient } from "./ssh.js";

/**
 * Looks at a server over one SSH connection: host facts, Docker engine, Compose v2 and, with
 * `isolation`, the live filter table (the tenant isolation rules, read only).
 */
export async function probeServer(ssh: SshClient, opts: { isolation?: boolean } = {}): Promise<ServerProbe> {
  await ssh.connect(); // one master; the probes below share it
  const [facts, engine, compose, security, isolation] = await Promise.all([
    ssh.run(hostFacts(), { timeoutMs: 20_000 }),
    ssh.run(dockerEngineVersion(), { allowFailure: true, timeoutMs: 20_000 }),
    ssh.run(composeVersion(), { allowFailure: true, timeoutMs: 20_000 }),
    ssh.run(dockerSecurityOptions(), { allowFailure: true, timeoutMs: 20_000 }),
    opts.isolation ? readIsolation(ssh) : undefined,
  ]);
  const engineOk = engine.exitCode === 0 && engine.stdout.trim() !== "";
  const userns = engineOk && security.exitCode === 0 ? parseUsernsRemap(security.stdout) : null;
  return {
    facts: parseHostFacts(facts.stdout),
    engineVersion: engineOk ? engine.stdout.trim() : null,
    ...(engineOk ? {} : { engineError: lastLine(engine.stderr) || `exit ${engine.exitCode}` }),
    composeVersion: compose.exitCode === 0 ? compose.stdout.trim() || null : null,
    ...(userns === null ? {} : { usernsRemap: userns }),
    ...(isolation ? { isolation } : {}),
  };
}

/** The live filter table (`status`, `doctor` and readiness compare it with the rendered rules). */
export async function readIsolation(ssh: SshClient): Promise<{ saved: string } | { error: string }> {
  const r = await ssh.run(isolationLiveCommand(), { allowFailure: true, timeoutMs: 30_000 });
  return r.exitCode === 0 ? { saved: r.stdout } : { error: lastLine(r.stderr) || `exit ${r.exitCode}` };
}

/** Anything that runs a remote command: an SshClient, or a Host over one. */
interface Runner {
  run(argv: string[], opts: { allowFailure?: boolean; timeoutMs?: number }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
}

/**
 * Every host name in `hosts` asked of the proxy at `target`, as a visitor would, in ONE
 * remote command (status stays one round trip per server with a hundred tenants). Never
 * throws for the answers: a host without one carries the reason (a dead connection too).
 */
export async function probeRoutes(ssh: Runner, target: RouteProbeTarget, hosts: readonly string[]): Promise<RouteAnswer[]> {
  if (hosts.length === 0) return [];
  const argv = routeProbe(target, hosts);
  // the script's own bound (batches of ROUTE_PROBE_PARALLEL, each request ROUTE_PROBE_TIMEOUT_SEC) and slack for SSH
  const timeoutMs = (Math.ceil(hosts.length / ROUTE_PROBE_PARALLEL) * ROUTE_PROBE_TIMEOUT_SEC + 20) * 1000;
  try {
    const r = await ssh.run(argv, { allowFailure: true, timeoutMs });
    const answers = parseRouteProbe(r.stdout, hosts);
    const why = r.exitCode === 0 ? null : lastLine(r.stderr) || `exit ${r.exitCode}`;
    return why ? answers.map((a) => (a.status === null && a.error === NO_ROUTE_RESULT ? { ...a, error: `the probe failed: ${why}` } : a)) : answers;
  } catch (e) {
    return parseRouteProbe("", hosts).map((a) => ({ ...a, error: `the probe failed: ${lastLine((e as Error).message)}` }));
  }
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop()?.trim().slice(0, 160) ?? "";
}
