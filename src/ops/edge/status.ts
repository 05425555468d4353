import type { Ctx } from "../../cli/context.js";
import { edgeHealthCheck, edgeProxyState, readEdgeCaddyfile } from "../../core/commands/edge-probe.js";
import { judgeEdgeProxy, noEdgeProxies, type EdgeProbe, type EdgeProxyStatus, type EdgeWanted, type ProbeOutcome } from "../../core/edge/status.js";
import type { RouteAnswer } from "../../core/commands/route-probe.js";
import { edgeRouteProbeTarget } from "../../core/edge/mode.js";
import { probeRoutes } from "../../remote/probe-server.js";
import type { Db } from "../../state/db.js";
import type { Host } from "../host.js";
import { edgeHost, edgeTargets, type EdgeTarget } from "./switch.js";

// Every edge proxy read at once for `btw status` (read-only: no lock, nothing written). Each
// probe is bounded, and a proxy that cannot be reached is a row saying so, not an error.

/** Per remote command: a frozen dockerd or a dead host must not hold `btw status` up. */
const PROBE_TIMEOUT_MS = 15_000;

export interface EdgeStatus {
  proxies: EdgeProxyStatus[];
  /** each reachable edge proxy asked for the given host names, as the load balancer forwards visitors */
  routes: Array<{ proxy: string; answers: RouteAnswer[] }>;
  /** tenants the edge cannot route (their server has no known private address) */
  unroutable: string[];
}

/** `hosts`: the names to ask each edge proxy for (the active tenants'; their custom domains). */
export async function edgeStatus(ctx: Ctx, db: Db, hosts: readonly string[] = []): Promise<EdgeStatus> {
  let targets: EdgeTarget[];
  try {
    targets = await edgeTargets(ctx);
  } catch (e) {
    // a status that cannot list the edge still reports everything else
    return { proxies: [noEdgeProxies((e as Error).message, (e as { hint?: string }).hint)], unroutable: [], routes: [] };
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
  const probes = await Promise.all(targets.map((t) => probeEdgeProxy(ctx, t, hosts)));
  return {
    proxies: probes.map((p) => judgeEdgeProxy(p.probe, wanted)),
    unroutable,
    routes: probes.flatMap((p) => (p.routes ? [{ proxy: p.probe.proxy, answers: p.routes }] : [])),
  };
}

async function probeEdgeProxy(ctx: Ctx, t: EdgeTarget, hosts: readonly string[]): Promise<{ probe: EdgeProbe; routes: RouteAnswer[] | null }> {
  let host: Host;
  try {
    host = await edgeHost(ctx, t);
    // opens the shared connection the probes below then use
    await host.run(["true"], { timeoutMs: PROBE_TIMEOUT_MS });
  } catch (e) {
    return { probe: { proxy: t.name, address: t.address, sshError: (e as Error).message }, routes: null };
  }
  const routes = probeRoutes(host, edgeRouteProbeTarget(ctx.config), hosts); // never rejects
  const [container, health, caddyfile] = await Promise.all([edgeProxyState(), edgeHealthCheck(), readEdgeCaddyfile()].map((argv) => outcome(host, argv)));
  return { probe: { proxy: t.name, address: t.address, sshError: null, container: container!, health: health!, caddyfile: caddyfile! }, routes: await routes };
}

async function outcome(host: Host, argv: string[]): Promise<ProbeOutcome> {
  try {
    return await host.run(argv, { allowFailure: true, timeoutMs: PROBE_TIMEOUT_MS });
  } catch (e) {
    return { error: (e as Error).message };
  }
}
