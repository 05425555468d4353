import type { Handler } from "../../cli/program.js";
import { bytes } from "./shared.js";

const handler: Handler = async (ctx) => {
  const db = await ctx.db();
  const { listServers } = await import("../../state/servers.js");
  const rows = await listServers(db);
  ctx.out.result({ servers: rows }, () =>
    rows.length === 0
      ? "no servers: add one with `btw server add <name> --host <addr>`"
      : ctx.out.table(rows, [
          { header: "name", value: (s) => s.name },
          { header: "host", value: (s) => `${s.sshUser}@${s.host}:${s.port}` },
          { header: "status", value: (s) => s.status },
          { header: "tenants", value: (s) => s.tenantCount, align: "right" },
          { header: "capacity", value: (s) => `${s.usedCapacity}/${s.capacity}`, align: "right" },
          { header: "docker", value: (s) => (s.facts?.engineVersion as string | undefined) ?? null },
          { header: "cpus", value: (s) => s.facts?.cpus ?? null, align: "right" },
          { header: "mem", value: (s) => bytes(s.facts?.memTotalBytes), align: "right" },
          { header: "disk free", value: (s) => bytes(s.facts?.diskFreeBytes), align: "right" },
          { header: "checked", value: (s) => (s.checkedAt ? new Date(s.checkedAt).toISOString().slice(0, 16).replace("T", " ") : null) },
        ]),
  );
};
export default handler;
