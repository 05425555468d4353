import type { Ctx } from "../../cli/context.js";
import type { Handler } from "../../cli/program.js";
import { planRegistration, parseServerOutputs, type ServerOutput } from "../../core/infra/outputs.js";
import { describeChanges } from "../../core/infra/plan.js";
import { ROLE_LABEL, STACK_LABEL } from "../../core/infra/spec.js";
import { applyArgs, outputArgs } from "../../core/infra/terraform.js";
import { PartialFailureError } from "../../errors.js";
import { infraSetup, prepare, refuseServersWithTenants, savedPlan, tf, withInfraLock } from "../../ops/infra/terraform.js";
import { sshFor } from "../../ops/server/context.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import { checkAndRecord } from "../server/shared.js";

// Plan, refuse if a server with tenants would go, confirm deletions, apply exactly the saved
// plan, then make btw's state follow: register the new servers, wait for their first boot,
// converge them (bootstrap + proxy, idempotent) and check them.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  await withInfraLock(db, async () => {
    const setup = infraSetup(ctx);
    await prepare(ctx, setup, { token: true });
    const plan = await savedPlan(ctx, setup);
    await refuseServersWithTenants(db, plan.serversGoing, "apply this plan");
    const c = plan.counts;
    const total = c.create + c.update + c.replace + c.delete;
    if (opts.dryRun) {
      ctx.out.result({ dryRun: true, counts: c, changes: plan.changes, then: ["register new servers", "wait for their first boot", "bootstrap, proxy, check"] }, () =>
        total === 0 ? "no changes: the platform matches the config" : [...describeChanges(plan), `would apply: ${c.create} to create, ${c.update} to change, ${c.replace} to replace, ${c.delete} to delete`].join("\n"),
      );
      return;
    }
    if (total > 0) {
      for (const line of describeChanges(plan)) ctx.out.info(line);
      if (c.delete + c.replace > 0) {
        const servers = plan.serversGoing.length ? ` (servers: ${plan.serversGoing.join(", ")})` : "";
        await ctx.confirm(`Apply ${total} changes, deleting ${c.delete} and replacing ${c.replace} resources${servers}?`, opts.yes as boolean | undefined);
      }
      await tf(ctx, setup, applyArgs(setup.paths.planFile), { token: true, stream: true });
      await ctx.audit("infra.apply", ctx.config.terraform.stack, { counts: c });
    }

    const outputs = parseServerOutputs((await tf(ctx, setup, outputArgs())).stdout);
    const { added, known } = await register(ctx, db, outputs);
    // each server's isolation rules name every other server: with servers added, the known ones are re-isolated too
    const results = await Promise.all([...added.map((s) => converge(ctx, db, s, true)), ...known.map((s) => converge(ctx, db, s, false, added.length > 0))]);
    const failed = results.filter((r) => r.error);
    ctx.out.result({ counts: c, servers: results }, () =>
      ctx.out.table(results, [
        { header: "server", value: (r) => r.server },
        { header: "new", value: (r) => (r.added ? "yes" : "") },
        { header: "status", value: (r) => r.status },
        { header: "problem", value: (r) => r.error },
      ]),
    );
    if (failed.length) throw new PartialFailureError(`${failed.length} of ${results.length} servers are not ready: ${failed.map((f) => f.server).join(", ")}`);
  });
};
export default handler;

async function register(ctx: Ctx, db: Db, outputs: ServerOutput[]): Promise<{ added: ServerRow[]; known: ServerRow[] }> {
  const servers = await import("../../state/servers.js");
  const rows = await servers.listServers(db);
  const plan = planRegistration({
    outputs,
    known: rows,
    capacities: ctx.config.hetzner.serverTypes,
    defaultCapacity: ctx.config.placement.defaultCapacity,
  });
  const added: ServerRow[] = [];
  const known: ServerRow[] = [];
  for (const r of plan) {
    if (r.action === "conflict") {
      ctx.out.warn(`${r.output.name}: not registered: ${r.reason}; fix it by hand (\`btw server show ${r.output.name}\`)`);
    } else if (r.action === "unchanged") {
      known.push(rows.find((s) => s.id === r.serverId)!);
    } else {
      const row = await servers.insertServer(db, {
        name: r.output.name,
        host: r.output.ipv4,
        port: ctx.config.ssh.port,
        sshUser: ctx.config.ssh.user,
        capacity: r.capacity,
        labels: { [STACK_LABEL]: ctx.config.terraform.stack, [ROLE_LABEL]: r.output.role },
        status: "new",
        providerId: r.output.id,
      });
      await ctx.audit("server.add", row.name, { host: row.host, providerId: r.output.id, via: "infra apply" });
      added.push(row);
    }
  }
  return { added, known };
}

interface Converged {
  server: string;
  added: boolean;
  status: string;
  changed: string[];
  error: string | null;
}

/**
 * New servers: first boot, bootstrap (no-op after cloud-init), isolation, proxy, check. Known
 * ones: check — after their isolation rules are re-applied when `reisolate` (servers were
 * added: the rules name them now).
 */
async function converge(ctx: Ctx, db: Db, server: ServerRow, added: boolean, reisolate = false): Promise<Converged> {
  try {
    let changed: string[] = [];
    if (added) {
      const { Host } = await import("../../ops/host.js");
      const { waitForFirstBoot, runBootstrap } = await import("../../ops/bootstrap.js");
      const { ensureProxy } = await import("../../ops/proxy.js");
      const host = new Host(server.name, await sshFor(ctx, server));
      ctx.out.info(`${server.name}: waiting for the first boot (up to ${ctx.config.hetzner.cloudInitTimeoutSec} s)…`);
      const boot = await waitForFirstBoot(host, server.sshUser, ctx.config.hetzner.cloudInitTimeoutSec * 1000);
      if (boot !== "done") ctx.out.warn(`${server.name}: cloud-init ${boot === "no-cloud-init" ? "is missing" : "reported errors"}; bootstrapping over SSH`);
      changed = (await runBootstrap(host, ctx.config, server.sshUser)).changed;
      const { ensureIsolation } = await import("../../ops/server/isolation.js");
      if ((await ensureIsolation(host, db, ctx.config, server.id)).changed) changed.push("isolation");
      await ensureProxy(host, db, ctx, server.id);
    } else if (reisolate && server.labels[ROLE_LABEL] !== "edge") {
      const { Host } = await import("../../ops/host.js");
      const { ensureIsolation } = await import("../../ops/server/isolation.js");
      if ((await ensureIsolation(new Host(server.name, await sshFor(ctx, server)), db, ctx.config, server.id)).changed) changed.push("isolation");
    }
    const check = await checkAndRecord(ctx, db, server);
    return { server: server.name, added, status: check.status, changed, error: check.error };
  } catch (e) {
    return { server: server.name, added, status: "unready", changed: [], error: (e as Error).message };
  }
}
