import { unavailabilityWindow, type UnavailabilityWindow } from "../../../core/tenant/migration-window.js";

// The cutover of `tenant migrate`, after the state names the target: the order is the
// contract. The target's proxy routes the tenant first; then, in edge mode, every edge
// proxy's table switches (until then the edge still sends the host to the source's
// maintenance page); the window closes there; only then does the source's proxy drop the
// tenant. Every step converges on the state, so a resume after a kill runs it all again.

export interface CutoverSteps {
  routeTarget(): Promise<void>;
  /** edge mode: switch every edge proxy, returning their names; null in direct mode */
  switchEdge: (() => Promise<string[]>) | null;
  /** the journal's record of the switch */
  recordEdge(at: string, proxies: string[]): Promise<void>;
  routeSource(): Promise<void>;
  now(): number;
}

export interface CutoverResult {
  unavailable: UnavailabilityWindow | null;
  edgeProxies: string[] | null;
}

export async function cutover(downSince: string | undefined, s: CutoverSteps): Promise<CutoverResult> {
  await s.routeTarget();
  let edgeProxies: string[] | null = null;
  if (s.switchEdge) {
    edgeProxies = await s.switchEdge();
    await s.recordEdge(new Date(s.now()).toISOString(), edgeProxies);
  }
  const unavailable = unavailabilityWindow(downSince, s.now());
  await s.routeSource();
  return { unavailable, edgeProxies };
}
