import type { Ctx } from "../../cli/context.js";
import { OperationError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { Host } from "../host.js";

// Every edge proxy's table re-rendered from the state: the step that makes a route change
// (a migration's cutover, a custom domain added or removed) real at the edge. The edge
// proxies are the stack's edge servers (Terraform outputs), looked up once per operation —
// before a migration's unavailability window, not inside it.

export interface EdgeTarget {
  name: string;
  /** the address btw reaches it on over SSH */
  address: string;
}

export interface EdgeSyncResult {
  proxy: string;
  ok: boolean;
  routes?: number;
  error?: string;
}

/** `edge.proxies` when set, else the edge servers of the stack (`terraform output`). Throws when there are none. */
export async function edgeTargets(ctx: Ctx): Promise<EdgeTarget[]> {
  const listed = ctx.config.edge.proxies;
  if (listed !== undefined && listed.length > 0) return listed.map((p) => ({ name: p.name, address: p.host }));
  const { infraSetup, prepare, tf } = await import("../infra/terraform.js");
  const { outputArgs } = await import("../../core/infra/terraform.js");
  const { parseServerOutputs } = await import("../../core/infra/outputs.js");
  const setup = infraSetup(ctx);
  await prepare(ctx, setup);
  const edges = parseServerOutputs((await tf(ctx, setup, outputArgs())).stdout).filter((o) => o.role === "edge");
  if (edges.length === 0) throw new OperationError("no edge servers in the Terraform state", { code: "no-edge", hint: "run `btw infra plan` and `btw infra apply` with proxy.mode: edge" });
  return edges.map((e) => ({ name: e.name, address: e.ipv4 }));
}

/** Runs `syncOne` on every target (all are tried, one failing does not stop the others). */
export async function syncEach(targets: readonly EdgeTarget[], syncOne: (t: EdgeTarget) => Promise<{ routes: number }>): Promise<EdgeSyncResult[]> {
  const results = await Promise.all(
    targets.map(async (t): Promise<EdgeSyncResult> => {
      try {
        return { proxy: t.name, ok: true, routes: (await syncOne(t)).routes };
      } catch (e) {
        return { proxy: t.name, ok: false, error: (e as Error).message.split("\n")[0]! };
      }
    }),
  );
  return results;
}

/** Throws unless every edge proxy took the new table (the route is switched only then). */
export function requireAllSynced(results: readonly EdgeSyncResult[]): void {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return;
  throw new OperationError(`${failed.length} of ${results.length} edge proxies did not take the new routes: ${failed.map((f) => `${f.proxy} (${f.error})`).join("; ")}`, {
    code: "edge-sync-failed",
    hint: "fix the cause and run `btw edge sync` (idempotent)",
  });
}

/** An edge proxy as a Host: SSH with the config's user, port and key (it is no registered server). */
export async function edgeHost(ctx: Ctx, t: EdgeTarget): Promise<Host> {
  const { sshFor } = await import("../server/context.js");
  const { Host } = await import("../host.js");
  return new Host(t.name, await sshFor(ctx, { name: t.name, host: t.address, port: ctx.config.ssh.port, sshUser: ctx.config.ssh.user, sshKeyPath: null }));
}

/** One edge proxy's table from the state, installed under its proxy lock. */
export async function syncEdgeTarget(ctx: Ctx, db: Db, t: EdgeTarget, opts: { ensure?: boolean } = {}): Promise<{ routes: number }> {
  const { syncEdgeRoutes } = await import("./routes.js");
  return syncEdgeRoutes(await edgeHost(ctx, t), db, ctx.config, opts);
}

/** Every edge proxy synced from the state; throws naming the ones that failed. */
export async function switchEdgeRoutes(ctx: Ctx, db: Db, targets: readonly EdgeTarget[]): Promise<EdgeSyncResult[]> {
  const results = await syncEach(targets, (t) => syncEdgeTarget(ctx, db, t));
  requireAllSynced(results);
  return results;
}

/**
 * In edge mode, every edge proxy's table re-rendered from the state after a route change of
 * create, delete, restore or a custom domain: returns the proxies' names, null in direct mode.
 * Throws (edge-sync-failed) when one did not take it; the caller decides whether that stops it.
 */
export async function syncEdgeAfterChange(ctx: Ctx, db: Db): Promise<string[] | null> {
  if (ctx.config.proxy.mode !== "edge") return null;
  const targets = await edgeTargets(ctx);
  return (await switchEdgeRoutes(ctx, db, targets)).map((r) => r.proxy);
}
