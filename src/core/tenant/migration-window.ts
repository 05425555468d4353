// A migration's unavailability window as the operator reads it: from the moment the source
// stopped serving (maintenance page up, n8n stopped) to the moment the new route was live
// and the target answered — the edge tables switched in edge mode, the target's proxy in
// direct mode. Measured by btw's clock at both ends; a resumed migration counts the time
// it spent killed, because the tenant was down all along.

export interface UnavailabilityWindow {
  since: string;
  until: string;
  seconds: number;
}

/** The window, or null when the start was never recorded (rows of older btw). */
export function unavailabilityWindow(downSince: string | undefined, untilMs: number): UnavailabilityWindow | null {
  if (downSince === undefined) return null;
  const since = Date.parse(downSince);
  if (!Number.isFinite(since)) return null;
  return { since: new Date(since).toISOString(), until: new Date(untilMs).toISOString(), seconds: Math.max(0, Math.round(untilMs - since) / 1000) };
}

/** The human line's tail: "unavailable 4.2 s (edge route switched on 2 proxies)". */
export function describeWindow(w: UnavailabilityWindow | null, edgeProxies: readonly string[] | null): string {
  const seconds = w === null ? "unavailable ? s" : `unavailable ${w.seconds.toFixed(1)} s`;
  if (edgeProxies === null) return seconds;
  return `${seconds}, edge route switched on ${edgeProxies.length} ${edgeProxies.length === 1 ? "proxy" : "proxies"}`;
}
