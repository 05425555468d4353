import type { Ctx } from "../../cli/context.js";
import { edgeHealthCheck, edgeProxyState, readEdgeCaddyfile } from "../../core/commands/edge-probe.js";
import { judgeEdgeProxy, noEdgeProxies, type EdgeProbe, type EdgeProxyStatus, type EdgeWanted, type ProbeOutcome } from "../../core/edge/status.js";
import type { Db } from "../../state/db.js";
import type { Host } from "../host.js";
import { edgeHost, edgeTargets, type EdgeTarget } from "./switch.js";

// Every edge proxy read at once for `btw status` (read-only: no lock, nothing written). Each
// probe is bounded, and a proxy that cannot be reached is a row saying so, not an error.

/** Per remote command: a frozen dockerd or a dead host must not hold `btw status` up. */
const PROBE_TIMEOUT_MS = 15_000;

export interface EdgeStatus {
  proxies: EdgeProxyStatus[];
  /** tenants the edge cannot route (their server has no known private address) */
  unroutable: string[];
}

export async function edgeStatus(ctx: Ctx, db: Db): Promise<EdgeStatus> {
  let targets: EdgeTarget[];
  try {
    targets = await edgeTargets(ctx);
  } catch (e) {
    // a status that cannot list the edge still reports everything else
    return { proxies: [noEdgeProxies((e as Error).message, (e as { hint?: string }).hint)], unroutable: [] };
  }
  const { edgeCaddyfileFor } = await import("./routes.js");
  let wanted: EdgeWanted;
  let unroutable: string[] = [];
  try {
    const w = await edgeCaddyfileFor(db, ctx.config);
    wanted = { text: w.text };
    unroutable = w.unroutable;
  } catch (e) {
    wanted = { error: (e as Error).message };
  }
  const probes = await Promise.all(targets.map((t) => probeEdgeProxy(ctx, t)));
  return { proxies: probes.map((p) => judgeEdgeProxy(p, wanted)), unroutable };
}

async function probeEdgeProxy(ctx: Ctx, t: EdgeTarget): Promise<EdgeProbe> {
  let host: Host;
  try {
    host = await edgeHost(ctx, t);
    // opens the shared connection the three probes below then use
    await host.run(["true"], { timeoutMs: PROBE_TIMEOUT_MS });
  } catch (e) {
    return { proxy: t.name, address: t.address, sshError: (e as Error).message };
  }
  const [container, health, caddyfile] = await Promise.all([edgeProxyState(), edgeHealthCheck(), readEdgeCaddyfile()].map((argv) => outcome(host, argv)));
  return { proxy: t.name, address: t.address, sshError: null, container: container!, health: health!, caddyfile: caddyfile! };
}

async function outcome(host: Host, argv: string[]): Promise<ProbeOutcome> {
  try {
    return await host.run(argv, { allowFailure: true, timeoutMs: PROBE_TIMEOUT_MS });
  } catch (e) {
    return { error: (e as Error).message };
  }
}
