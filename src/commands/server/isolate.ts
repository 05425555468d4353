import type { Handler } from "../../cli/program.js";
import { PartialFailureError } from "../../errors.js";
import { requireServer, sshFor } from "../../ops/server/context.js";
import { checkAndRecord } from "./shared.js";

// `btw server isolate [names...]`: the tenant isolation rules (src/core/server/isolation.ts)
// installed and applied on the named servers, or on every server — the step `server bootstrap`
// and `infra apply` run, alone — then each server checked (`server check`): the live rules
// compared with the rendered ones and recorded, so a server refused for tenants for want of
// isolation takes them again. Each server's rules name every other server's addresses, so a
// server added later is only kept from the older ones once they are re-isolated: run it
// after `server add`. Idempotent; a server that fails is reported and the others go on.
const handler: Handler = async (ctx, [names], opts) => {
  const db = await ctx.db();
  const { listServers } = await import("../../state/servers.js");
  const { ROLE_LABEL } = await import("../../core/monitoring/targets.js");
  const wanted = (names as string[] | undefined) ?? [];
  const servers = wanted.length
    ? await Promise.all(wanted.map((n) => requireServer(db, n)))
    : (await listServers(db)).filter((s) => s.labels[ROLE_LABEL] !== "edge");
  const { isolationInputFor, ensureIsolation } = await import("../../ops/server/isolation.js");
  if (opts.dryRun) {
    const plans = await Promise.all(servers.map(async (s) => ({ server: s.name, rules: await isolationInputFor(db, ctx.config, s.id) })));
    ctx.out.result({ dryRun: true, servers: plans }, () =>
      plans
        .map((p) => `would isolate tenants (${p.rules.tenantSources.join(", ")}) on ${p.server} from the host but 80/443, ${[...p.rules.privateRanges, "169.254.0.0/16"].join(", ")} and ${p.rules.otherServers.length} other server addresses`)
        .join("\n"),
    );
    return;
  }
  const { Host } = await import("../../ops/host.js");
  const results = await Promise.all(
    servers.map(async (s) => {
      try {
        const r = await ensureIsolation(new Host(s.name, await sshFor(ctx, s)), db, ctx.config, s.id);
        // what placement reads: the rules as the kernel holds them now
        const check = await checkAndRecord(ctx, db, s);
        const isolation = (check.facts?.isolation as string | undefined) ?? "unknown";
        if (check.error || isolation !== "in-place") {
          const why = check.error ?? check.verdict?.isolation?.problems.join("; ") ?? isolation;
          return { server: s.name, ok: false, changed: r.changed, persistent: r.persistent, isolation, error: `applied, but the check that followed says: ${why}` };
        }
        return { server: s.name, ok: true, changed: r.changed, persistent: r.persistent, isolation, error: null as string | null };
      } catch (e) {
        return { server: s.name, ok: false, changed: false, persistent: false, isolation: "unknown", error: (e as Error).message.split("\n")[0]! };
      }
    }),
  );
  await ctx.audit("server.isolate", wanted.length ? wanted.join(",") : "all", { results });
  ctx.out.result({ results }, () =>
    results
      .map((r) => (r.ok ? `${r.server}: isolation ${r.changed ? "applied (rules changed)" : "applied (unchanged)"}${r.persistent ? "" : "; no systemd: re-run after a reboot"}` : `${r.server}: FAILED: ${r.error}`))
      .join("\n"),
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new PartialFailureError(`${failed.length} of ${results.length} servers were not isolated: ${failed.map((f) => f.server).join(", ")}`, { hint: "fix the cause and re-run `btw server isolate` (idempotent)" });
};
export default handler;
