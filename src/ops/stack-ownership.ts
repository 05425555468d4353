import { networkNames } from "../core/commands/proxy.js";
import { parseStackContainers, parseStackDir, stackContainers, stackDir, tenantNetworksIn, tenantVolumesIn, volumeNames } from "../core/commands/stack-ownership.js";
import { decideOwnership, type StackFound } from "../core/tenant/ownership.js";
import { tenantLayout } from "../core/tenant/layout.js";
import { ConflictError } from "../errors.js";
import type { Host } from "./host.js";

// btw never adopts or overwrites a stack it does not own. Before a flow writes anything for
// a tenant on a server (create; restore and migrate onto a server), it looks at what the
// server holds under that name and refuses (exit 2) unless this state owns it.

/** The tenant's containers, volumes, networks and directory on the server, with their owner labels. */
export async function inspectStack(host: Host, slug: string): Promise<StackFound> {
  const opts = { timeoutMs: 30_000 };
  const [containers, volumes, networks, dir] = await Promise.all([
    host.run(stackContainers(slug), opts),
    host.run(volumeNames(), opts),
    host.run(networkNames(), opts),
    host.run(stackDir(slug), opts),
  ]);
  const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);
  return {
    containers: parseStackContainers(containers.stdout),
    volumes: tenantVolumesIn(slug, lines(volumes.stdout)),
    networks: tenantNetworksIn(slug, lines(networks.stdout)),
    dir: { path: tenantLayout(slug).dir, ...parseStackDir(dir.stdout) },
  };
}

export interface OwnershipCheck {
  slug: string;
  /** this state's uuid (ctx.stateId) */
  stateId: string | null;
  /** true when this state records the tenant on this server (its row says so) */
  recorded: boolean;
}

/**
 * Throws ConflictError (exit 2, one line naming what was found, a hint saying how to go on)
 * when the server holds something under the tenant's name that this state does not own:
 * anything labelled by another state, or anything at all when the state does not record
 * the tenant there. Returns what it found.
 */
export async function assertStackOwned(host: Host, check: OwnershipCheck): Promise<StackFound> {
  const found = await inspectStack(host, check.slug);
  const d = decideOwnership({ slug: check.slug, server: host.name, stateId: check.stateId, recorded: check.recorded, found });
  if (!d.ok) throw new ConflictError(d.message, { code: d.reason === "foreign-state" ? "stack-foreign" : "stack-unrecorded", hint: d.hint });
  return found;
}
