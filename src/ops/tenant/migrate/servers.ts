import type { Ctx } from "../../../cli/context.js";
import { composeDown } from "../../../core/commands/compose.js";
import { foreignSubnets, networkSubnets } from "../../../core/commands/inspect.js";
import { purgeByLabel } from "../../../core/commands/tenant-purge.js";
import { allocateSubnet } from "../../../core/subnets.js";
import { tenantLayout } from "../../../core/tenant/layout.js";
import { ConflictError, OperationError } from "../../../errors.js";
import type { Db } from "../../../state/db.js";
import type { ServerRow } from "../../../state/servers.js";
import type { TenantRow } from "../../../state/tenants.js";
import type { Host } from "../../host.js";
import type { ServerSession } from "../../backup/tenant.js";
import { disconnectTenant } from "../../proxy.js";
import type { EdgeTarget } from "../../edge/switch.js";
import { imagesOf } from "../../tenant-context.js";

// The two servers of a migration: what the target must have before it starts (the images, a
// subnet), how a tenant's stack leaves a server, and the edge proxies between them.

/** The tenant's own images (versions are state): what the target must have. */
function images(ctx: Ctx, t: TenantRow): string[] {
  const i = imagesOf(ctx, t);
  return [i.n8n, i.postgres, i.redis];
}

/** Images present on the target, pulled when missing (fails when they cannot be had). */
export async function ensureImages(ctx: Ctx, s: ServerSession, t: TenantRow): Promise<void> {
  for (const image of images(ctx, t)) {
    const has = await s.host.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], { allowFailure: true });
    if (has.exitCode === 0) continue;
    const pull = await s.host.run(["docker", "pull", "--quiet", image], { allowFailure: true, timeoutMs: 900_000 });
    if (pull.exitCode !== 0) throw new OperationError(`image ${image} is not on ${s.server.name} and cannot be pulled: ${pull.stderr.trim().split("\n").pop()}`, { code: "image-missing" });
  }
}

/**
 * A subnet for `slug` on `server`: free in the state (its tenants there) and on the server
 * itself (what its Docker already uses, as at create: another btw state's tenants, networks
 * left behind), or compose fails at the target with "Pool overlaps" after the tenant went down.
 */
export async function allocateOn(ctx: Ctx, db: Db, server: ServerRow, host: Host, slug: string): Promise<string> {
  const { usedSubnets } = await import("../../../state/tenants.js");
  const onServer = foreignSubnets((await host.run(networkSubnets())).stdout, slug);
  const lock = await db.lock({ kind: "server", name: server.name }, { timeoutMs: 60_000 });
  try {
    const subnet = allocateSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, [...(await usedSubnets(db, server.id)), ...onServer]);
    if (!subnet) throw new ConflictError(`no free subnet left on ${server.name}`, { code: "subnets-exhausted" });
    return subnet;
  } finally {
    await lock.release();
  }
}

export async function removeStack(s: ServerSession, slug: string): Promise<void> {
  await disconnectTenantQuiet(s, slug);
  await s.host.run(composeDown(slug, { volumes: true }), { allowFailure: true, timeoutMs: 180_000 });
  await s.host.run(purgeByLabel(slug), { allowFailure: true });
  await s.host.removeTree(tenantLayout(slug).dir);
}

export async function disconnectTenantQuiet(s: ServerSession, slug: string): Promise<void> {
  await disconnectTenant(s.host, slug).catch(() => {});
}

/** Edge mode: the edge proxies to switch; direct mode: null (the servers' proxies are the route). */
export async function edgeTargetsFor(ctx: Ctx): Promise<EdgeTarget[] | null> {
  if (ctx.config.proxy.mode !== "edge") return null;
  const { edgeTargets } = await import("../../edge/switch.js");
  return edgeTargets(ctx);
}
