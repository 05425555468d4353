import type { Ctx } from "../../cli/context.js";
import { composeCreate } from "../../core/commands/compose.js";
import { CLONE_FAILED, cloneInput, NOT_READY, PREPARE_FAILED, parsePrepareOutput, prepareAndClone } from "../../core/tenant/prepared-db.js";
import type { TenantProfile } from "../../core/tenant/layout.js";
import { tenantLayout } from "../../core/tenant/layout.js";
import { OperationError } from "../../errors.js";
import type { TenantImages } from "../../state/tenants.js";
import type { Host } from "../host.js";
import { GENERATED } from "../tenant-secrets.js";

/**
 * Fills a new tenant's (still empty) Postgres volume with the server's prepared n8n database
 * for the tenant's images, with the tenant's own password and new ids (core/tenant/prepared-db.ts).
 * The stack is created (images pulled, volumes made) but not started. Resumable: a volume
 * already holding a whole data directory is left as it is; a clone cut short is started over.
 *
 * When the server has none ready for these images (the first create after a new server or a
 * new n8n, or its copy failed the checks), it is made in the background on the server and this
 * create goes on without it: n8n migrates the empty database on its first start, as before.
 * When it cannot be made at all (an image n8n cannot start with, a full disk), a warning says why.
 */
export async function clonePreparedDatabase(
  ctx: Ctx,
  host: Host,
  t: { slug: string; server: string; profiles: readonly TenantProfile[]; images: TenantImages; secrets: Map<string, string> },
): Promise<string> {
  await host.run(composeCreate(t.slug, { profiles: t.profiles }), { timeoutMs: 900_000 });
  const password = t.secrets.get(GENERATED.postgresPassword);
  if (!password) throw new OperationError(`secret ${GENERATED.postgresPassword} of ${t.slug} is missing from the state`, { code: "secret-missing" });
  const volume = t.images.pgdataVolume ?? tenantLayout(t.slug).volumes.pgdata;
  const r = await host.run(prepareAndClone({ n8nImage: t.images.n8n, postgresImage: t.images.postgres, volume }), {
    input: cloneInput(password),
    allowFailure: true,
    // a first preparation migrates a database with the n8n image: minutes on a slow server
    timeoutMs: 1_200_000,
  });
  const out = parsePrepareOutput(r.stdout);
  const why = r.stderr.split("\n").filter((l) => l.startsWith("btw-prepared: ")).map((l) => l.slice("btw-prepared: ".length)).pop() ?? r.stderr.trim().split("\n").pop() ?? "";
  if (r.exitCode === NOT_READY) {
    if (out.refused) ctx.out.warn(`the prepared n8n database ${out.key} on ${t.server} was refused (${out.refused}): it is made again in the background`);
    return out.prepared === "busy" ? "none: being prepared on the server" : "none yet: being prepared in the background";
  }
  if (r.exitCode === PREPARE_FAILED) {
    ctx.out.warn(`no prepared n8n database on ${t.server} (${why}): ${t.slug}'s n8n migrates an empty one on its first start instead`);
    return "none: n8n migrates an empty database";
  }
  if (r.exitCode !== 0) {
    throw new OperationError(`cloning the prepared n8n database into ${volume} on ${t.server} failed${r.exitCode === CLONE_FAILED ? "" : ` (exit ${r.exitCode})`}: ${why}`, {
      code: "prepared-clone-failed",
    });
  }
  return `${out.key}${out.prepared === "built" ? " (built now)" : ""}${out.clone === "earlier" ? ", cloned earlier" : ""}`;
}

/**
 * `upgrade n8n`'s pull step: the server's prepared database for the new image is made now, in
 * the background on the server, so the creates after the wave clone it instead of migrating.
 * Never fails the upgrade: a server that cannot make one says so and creates migrate as before.
 */
export async function prepareAhead(ctx: Ctx, host: Host, images: { n8n: string; postgres: string }): Promise<"ready" | "building" | "off" | "failed"> {
  if (!ctx.config.placement.preparedDatabase) return "off";
  const r = await host.run(prepareAndClone({ n8nImage: images.n8n, postgresImage: images.postgres }), { allowFailure: true, timeoutMs: 120_000 });
  if (r.exitCode === 0) return "ready";
  if (r.exitCode === NOT_READY) return "building";
  ctx.out.warn(`no prepared n8n database for ${images.n8n} on ${host.name} (${r.stderr.trim().split("\n").pop() ?? `exit ${r.exitCode}`}): creates there migrate an empty one`);
  return "failed";
}
