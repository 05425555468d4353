import type { Handler } from "../../cli/program.js";
import { describeChanges } from "../../core/infra/plan.js";
import { applyArgs } from "../../core/infra/terraform.js";
import { infraSetup, prepare, refuseServersWithTenants, savedPlan, stackServerNames, tf, withInfraLock } from "../../ops/infra/terraform.js";

// Deletes everything the stack made. Refused — before Terraform is even run — while any of
// its servers holds tenants (exit 2, naming them); otherwise shows what goes and asks.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  await refuseServersWithTenants(db, await stackServerNames(ctx, db), "destroy the platform");
  await withInfraLock(db, async () => {
    const setup = infraSetup(ctx);
    await prepare(ctx, setup, { token: true });
    const plan = await savedPlan(ctx, setup, { destroy: true });
    // what Terraform's state holds may differ from btw's view: check its list too
    await refuseServersWithTenants(db, plan.serversGoing, "destroy the platform");
    const going = plan.changes.length;
    if (going === 0) {
      ctx.out.result({ destroyed: [], counts: plan.counts }, () => "nothing to destroy: the Terraform state is empty");
      return;
    }
    if (opts.dryRun) {
      ctx.out.result({ dryRun: true, changes: plan.changes, serversGoing: plan.serversGoing }, () =>
        [...describeChanges(plan), `would destroy ${going} resources${plan.serversGoing.length ? `, servers: ${plan.serversGoing.join(", ")}` : ""}`].join("\n"),
      );
      return;
    }
    for (const line of describeChanges(plan)) ctx.out.info(line);
    await ctx.confirm(
      `Destroy ${going} resources${plan.serversGoing.length ? `, deleting servers ${plan.serversGoing.join(", ")} and their disks` : ""}?`,
      opts.yes as boolean | undefined,
    );
    await tf(ctx, setup, applyArgs(setup.paths.planFile), { token: true, stream: true });

    // The servers are gone and held no tenants: forget them.
    const servers = await import("../../state/servers.js");
    const forgotten: string[] = [];
    for (const name of plan.serversGoing) {
      const row = await servers.getServerByName(db, name);
      if (row?.providerId) {
        await db.transaction((tx) => servers.removeServer(tx, row.id));
        forgotten.push(name);
      }
    }
    await ctx.audit("infra.destroy", ctx.config.terraform.stack, { resources: going, servers: plan.serversGoing });
    ctx.out.result({ destroyed: plan.changes.map((c) => c.address), servers: plan.serversGoing, unregistered: forgotten }, () => {
      ctx.out.success(`destroyed ${going} resources${forgotten.length ? `; unregistered ${forgotten.join(", ")}` : ""}`);
      return "";
    });
  });
};
export default handler;
