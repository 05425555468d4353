// Which tenant networks the proxy must join: derived from the state on every convergence,
// never remembered by the container. A recreated Caddy container (new image, changed
// template) starts on its own network only; this plan puts every tenant back.

import { tenantLayout } from "../tenant/layout.js";

export interface AttachInput {
  /** tenants the state places on this server (any status but deleted) */
  slugs: readonly string[];
  /** networks that exist on the server */
  existing: readonly string[];
  /** networks the proxy container is attached to now */
  attached: readonly string[];
}

export interface AttachPlan {
  /** tenants whose edge network exists and is not attached yet */
  connect: string[];
  /** tenants of the state with no edge network on the server (not created yet, or lost) */
  missing: string[];
}

export function planProxyAttach(input: AttachInput): AttachPlan {
  const existing = new Set(input.existing);
  const attached = new Set(input.attached);
  const connect: string[] = [];
  const missing: string[] = [];
  for (const slug of [...new Set(input.slugs)].sort()) {
    const edge = tenantLayout(slug).networks.edge;
    if (!existing.has(edge)) missing.push(slug);
    else if (!attached.has(edge)) connect.push(slug);
  }
  return { connect, missing };
}
