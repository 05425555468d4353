import { isIP } from "node:net";
import type { Config } from "../../config/schema.js";
import { edgeOnlyAddress } from "../../core/edge/mode.js";
import { privateAddress, ROLE_LABEL } from "../../core/monitoring/targets.js";
import {
  ISOLATION_LAYOUT,
  isolationApply,
  isolationEnableUnit,
  isolationScript,
  renderIsolationUnit,
  systemdRunning,
  type IsolationInput,
} from "../../core/server/isolation.js";
import { checkIsolation, type IsolationCheck } from "../../core/server/isolation-check.js";
import { OperationError } from "../../errors.js";
import { readIsolation } from "../../remote/probe-server.js";
import type { SshClient } from "../../remote/ssh.js";
import type { Db, Queryable } from "../../state/db.js";
import { listServers } from "../../state/servers.js";
import type { Host } from "../host.js";

// Installs and applies the tenant isolation rules on one server (src/core/server/isolation.ts):
// the script and, where the host runs systemd, the unit that re-applies them at boot and on
// every Docker restart. Idempotent: `server bootstrap` (and `infra apply`) run it every time,
// which is also how a server learns about servers added since (their addresses are in the
// rules; the private network's range covers their private side already).

/** The rules' inputs from the config and the state: every other server's addresses (null: a server not registered yet). */
export async function isolationInputFor(db: Queryable, config: Config, serverId: number | null): Promise<IsolationInput> {
  const all = await listServers(db);
  const others = all.filter((s) => s.id !== serverId);
  const addresses = others.flatMap((s) => [s.host, privateAddress(s)].filter((a): a is string => a !== null));
  // behind the edge (switch done): its web listeners answer on its private address only
  const self = all.find((s) => s.id === serverId);
  const only = self ? edgeOnlyAddress(config, privateAddress(self)) : null;
  return {
    tenantSources: [config.placement.subnetPool],
    privateRanges: [config.hetzner.networkRange],
    otherServers: addresses,
    ...(only !== null && isIP(only) === 4 ? { webOnlyTo: only } : {}),
  };
}

/**
 * The rules a server must hold for its checks (readiness, `status`, `doctor`), or null for one
 * that runs no tenants and is never isolated (an edge proxy: `server isolate` skips it too).
 */
export async function expectedIsolation(db: Queryable, config: Config, server: { id: number | null; labels: Record<string, string> }): Promise<IsolationInput | null> {
  return server.labels[ROLE_LABEL] === "edge" ? null : isolationInputFor(db, config, server.id);
}

/**
 * The server's isolation rules as its kernel holds them against btw's (`status`, `doctor`):
 * null for a server that is never isolated (an edge proxy).
 */
export async function liveIsolation(ssh: SshClient, db: Queryable, config: Config, server: { id: number; name: string; labels: Record<string, string> }): Promise<IsolationCheck | null> {
  const expected = await expectedIsolation(db, config, server);
  return expected ? checkIsolation(server.name, expected, await readIsolation(ssh)) : null;
}

export interface IsolationResult {
  /** the script (so the rules) differed from what the host had */
  changed: boolean;
  /** false on hosts without systemd (the lab's Docker-in-Docker servers): applied now, not at boot */
  persistent: boolean;
}

export async function ensureIsolation(host: Host, db: Db, config: Config, serverId: number): Promise<IsolationResult> {
  return installIsolation(host, await isolationInputFor(db, config, serverId));
}

/** Writes the script (and the unit, under systemd) and applies it. */
export async function installIsolation(host: Host, input: IsolationInput): Promise<IsolationResult> {
  const script = isolationScript(input);
  const before = await host.run(["cat", ISOLATION_LAYOUT.script], { allowFailure: true });
  const changed = before.exitCode !== 0 || before.stdout !== script;
  await host.mkdir(ISOLATION_LAYOUT.dir);
  await host.writeFile(ISOLATION_LAYOUT.script, script, "0755");
  const persistent = (await host.run(systemdRunning(), { allowFailure: true })).exitCode === 0;
  if (persistent) {
    await host.writeFile(ISOLATION_LAYOUT.unitFile, renderIsolationUnit());
    for (const argv of isolationEnableUnit()) await host.run(argv, { timeoutMs: 60_000 });
  }
  const r = await host.run(isolationApply(), { allowFailure: true, timeoutMs: 60_000 });
  if (r.exitCode !== 0) {
    throw new OperationError(`cannot apply the tenant isolation rules on ${host.name}: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.exitCode}`}`, {
      code: "isolation-failed",
      hint: `the rules are in ${ISOLATION_LAYOUT.script} on ${host.name}; fix the cause (iptables missing?) and re-run \`btw server bootstrap ${host.name}\``,
    });
  }
  return { changed, persistent };
}
