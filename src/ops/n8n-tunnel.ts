import { inspectNetworks, parseNetworkIp } from "../core/commands/inspect.js";
import { N8N_PORT, tenantLayout } from "../core/tenant/layout.js";
import { OperationError } from "../errors.js";
import type { Host } from "./host.js";

export interface N8nTunnel {
  /** http://127.0.0.1:<port> — reaches the tenant's n8n through SSH, never a public port */
  baseUrl: string;
  close(): Promise<void>;
}

/** Forwards a local port to the tenant's n8n container (its address on the edge network). */
export async function openN8nTunnel(host: Host, slug: string): Promise<N8nTunnel> {
  const layout = tenantLayout(slug);
  const r = await host.run(inspectNetworks(layout.containers.n8n), { allowFailure: true });
  const ip = r.exitCode === 0 ? parseNetworkIp(r.stdout, layout.networks.edge) : null;
  if (!ip) {
    throw new OperationError(`${slug}'s n8n container is not running on ${host.name}`, { code: "n8n-not-running", hint: `\`btw tenant status ${slug}\`` });
  }
  const fwd = await host.ssh.forwardTcp(ip, N8N_PORT);
  return { baseUrl: `http://127.0.0.1:${fwd.localPort}`, close: () => fwd.close() };
}

/** Polls /healthz/readiness (200 once n8n's database is connected and migrated). */
export async function waitN8nReady(baseUrl: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last = "no answer";
  while (Date.now() - t0 < timeoutMs) {
    try {
      const res = await fetch(`${baseUrl}/healthz/readiness`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return Date.now() - t0;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new OperationError(`n8n did not become ready within ${Math.round(timeoutMs / 1000)} s (${last})`, { code: "n8n-not-ready" });
}
