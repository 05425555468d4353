import type { Handler } from "../../cli/program.js";
import { PartialFailureError } from "../../errors.js";
import { requireServer } from "../../ops/server/context.js";
import { bytes, checkAndRecord, type CheckResult } from "./shared.js";

const handler: Handler = async (ctx, [names]) => {
  const db = await ctx.db();
  const { listServers } = await import("../../state/servers.js");
  const wanted = (names as string[] | undefined) ?? [];
  const servers = wanted.length ? await Promise.all(wanted.map((n) => requireServer(db, n))) : await listServers(db);
  if (servers.length === 0) {
    ctx.out.result({ servers: [] }, () => "no servers to check: add one with `btw server add <name> --host <addr>`");
    return;
  }

  // Servers are independent: check them all at once (each over its own single connection).
  const results: CheckResult[] = await Promise.all(
    servers.map(async (s) => {
      const r = await checkAndRecord(ctx, db, s);
      ctx.out.verbose(`${s.name}: ${r.status}`);
      return r;
    }),
  );
  await ctx.audit("server.check", wanted.join(",") || "*", { results: results.map((r) => ({ server: r.server, status: r.status })) });

  const failed = results.filter((r) => r.error);
  if (servers.length === 1 && failed.length === 1) throw failed[0]!.cause;
  ctx.out.result({ servers: results.map(({ cause: _c, ...r }) => r) }, () => {
    const table = ctx.out.table(results, [
      { header: "server", value: (r) => r.server },
      { header: "status", value: (r) => r.status },
      { header: "docker", value: (r) => (r.facts?.engineVersion as string | null) ?? null },
      { header: "compose", value: (r) => (r.facts?.composeVersion as string | null) ?? null },
      { header: "cpus", value: (r) => (r.facts?.cpus as number | undefined) ?? null, align: "right" },
      { header: "mem avail", value: (r) => bytes(r.facts?.memAvailableBytes), align: "right" },
      { header: "disk free", value: (r) => bytes(r.facts?.diskFreeBytes), align: "right" },
    ]);
    const problems = results.flatMap((r) => (r.error ? [`${r.server}: ${r.error}`] : (r.verdict?.problems ?? []).map((p) => `${r.server}: ${p}`)));
    return table + problems.map((p) => `! ${p}`).join("\n");
  });
  if (failed.length) throw new PartialFailureError(`${failed.length} of ${results.length} servers could not be checked: ${failed.map((f) => f.server).join(", ")}`);
};
export default handler;
