import type { Handler } from "../../cli/program.js";
import { requireServer } from "../../ops/server/context.js";
import { bytes } from "./shared.js";

const handler: Handler = async (ctx, [name]) => {
  const db = await ctx.db();
  const server = await requireServer(db, String(name));
  const { listServers } = await import("../../state/servers.js");
  const { listTenants } = await import("../../state/tenants.js");
  const usage = (await listServers(db)).find((s) => s.id === server.id)!;
  const tenants = await listTenants(db, { serverId: server.id });
  const f = server.facts ?? {};
  ctx.out.result({ server: usage, tenants }, () =>
    [
      `name       ${server.name}`,
      `address    ${server.sshUser}@${server.host}:${server.port}${server.sshKeyPath ? ` (key ${server.sshKeyPath})` : ""}`,
      `status     ${server.status}`,
      `capacity   ${usage.usedCapacity}/${server.capacity} units used by ${usage.tenantCount} tenant(s)`,
      `docker     ${String(f.engineVersion ?? "-")}, compose ${String(f.composeVersion ?? "-")}${f.usernsRemap === undefined ? "" : f.usernsRemap ? ", user namespaces remapped" : ", user namespaces not remapped"}`,
      `host       ${String(f.cpus ?? "-")} cpus, ${bytes(f.memTotalBytes)} memory (${bytes(f.memAvailableBytes)} available), ${bytes(f.diskFreeBytes)} free on ${String(f.diskPath ?? "-")}`,
      `os         ${String(f.os ?? "-")} (${String(f.kernel ?? "-")}, ${String(f.arch ?? "-")})`,
      `checked    ${server.checkedAt ? new Date(server.checkedAt).toISOString() : "never"}`,
      ...((f.problems as string[] | undefined) ?? []).map((p) => `problem    ${p}`),
      `tenants    ${tenants.length ? tenants.map((t) => `${t.slug} (${t.plan}, ${t.status})`).join(", ") : "none"}`,
    ].join("\n"),
  );
};
export default handler;
