// The proxy's .env beside templates/proxy/compose.yml: its image and resource limits.

import { isIP } from "node:net";
import { UsageError } from "../../errors.js";
import { formatCpus, formatMemory } from "../tenant/env.js";
import { renderEnvFile } from "../tenant/dotenv.js";

export interface ProxyEnvInput {
  caddyImage: string;
  limits?: { cpus: number; memoryMb: number; pids: number };
  /** host address:port publishing the metrics listener — the server's private address */
  metricsPublish?: string;
}

/** Caddy in front of dozens of n8n instances stays far below these; they bound a runaway. */
export const DEFAULT_PROXY_LIMITS = { cpus: 1, memoryMb: 512, pids: 512 } as const;

/** An address as Compose's `ports` wants it before `:port` (IPv6 in brackets); throws on anything else. */
export function publishHost(a: string): string {
  const v = isIP(a);
  if (v === 0) throw new UsageError(`invalid publish address ${JSON.stringify(a)}`, { code: "invalid-address" });
  return v === 6 ? `[${a}]` : a;
}

export function renderProxyEnv(input: ProxyEnvInput): string {
  const limits = input.limits ?? DEFAULT_PROXY_LIMITS;
  if (!Number.isInteger(limits.pids) || limits.pids < 1) throw new UsageError(`invalid pids limit ${limits.pids}`, { code: "invalid-limit" });
  return renderEnvFile(
    ["btw proxy: values for compose.yml in this directory.", "Written by btw from its config; edits are overwritten."],
    [
      {
        comment: "Image and limits",
        entries: [
          ["CADDY_IMAGE", input.caddyImage],
          ["CADDY_CPUS", formatCpus(limits.cpus)],
          ["CADDY_MEMORY", formatMemory(limits.memoryMb)],
          ["CADDY_PIDS", String(limits.pids)],
        ],
      },
      ...(input.metricsPublish
        ? [{ comment: "Tenants' n8n metrics for Prometheus: the server's private address only", entries: [["METRICS_PUBLISH", input.metricsPublish] as const] }]
        : []),
    ],
  );
}
