import type { Ctx } from "../../cli/context.js";
import { runBounded } from "../../core/backup/pool.js";
import { execPsql } from "../../core/backup/commands.js";
import { tenantLayout } from "../../core/tenant/layout.js";
import { monthPeriod, parseUsage, USAGE_METRICS, usageSql } from "../../core/usage/usage.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantListRow } from "../../state/tenants.js";
import { openServerSession, type ServerSession } from "../backup/tenant.js";

// `btw usage collect`: for each tenant, one query in its own database (through the Docker API
// over one SSH connection per server) — the month's executions by status, the published
// workflows, the articles published — stored in the central `usage` table, replacing what an
// earlier run of the same month stored (idempotent: run it daily, never doubles).

export interface CollectItem {
  tenant: string;
  server: string;
  ok: boolean;
  values?: Record<string, number>;
  error?: string;
}

export async function collectUsage(ctx: Ctx, db: Db, month: string | undefined, opts: { tenant?: string } = {}): Promise<{ period: string; results: CollectItem[] }> {
  const { period, from, to } = monthPeriod(month);
  const { listTenants } = await import("../../state/tenants.js");
  const { listServers } = await import("../../state/servers.js");
  const tenants = (await listTenants(db, { status: ["active", "suspended"] })).filter((t) => !opts.tenant || t.slug === opts.tenant);
  const servers = new Map((await listServers(db)).map((s) => [s.name, s as ServerRow]));
  const sessions = new Map<string, Promise<ServerSession>>();
  const session = (name: string) => {
    let s = sessions.get(name);
    if (!s) {
      s = openServerSession(ctx, servers.get(name)!);
      s.catch(() => {});
      sessions.set(name, s);
    }
    return s;
  };
  // each server's volumes sized once per run (the engine walks them all: one call, not one per tenant)
  const volumeBytes = new Map<string, Promise<Map<string, number> | null>>();
  const volumesOf = (name: string, s: ServerSession) => {
    let v = volumeBytes.get(name);
    if (!v) {
      v = diskUsage(s).catch(() => null);
      volumeBytes.set(name, v);
    }
    return v;
  };
  const sql = usageSql(from, to);
  const settled = await runBounded(tenants, (t: TenantListRow) => t.serverName ?? "?", { total: 8, perGroup: 4 }, async (t) => {
    const { execText } = await import("../../remote/backup-exec.js");
    const s = await session(t.serverName!);
    const out = await execText(s.docker, tenantLayout(t.slug).containers.postgres, execPsql(sql), "usage query");
    const values = parseUsage(out);
    if (!values) throw new Error(`unexpected answer from ${t.slug}'s database: ${out.trim().slice(0, 120)}`);
    // what it really uses now (issue 26): its running containers' stats, summed (a scratch
    // stack of a verify carries the tenant's label too, and the scratch mark)
    const { parseContainerStats, sumSamples } = await import("../../core/usage/resources.js");
    const running = (await s.docker.listContainers({ filters: { label: [`btw.tenant=${t.slug}`], status: ["running"] } })).filter((c) => c.Labels?.["btw.scratch"] !== "1");
    const sample = sumSamples(await Promise.all(running.map(async (c) => parseContainerStats(await s.docker.getContainer(c.Id).stats({ stream: false })))));
    // its volumes' bytes (null when the engine could not say: an engine older than API 1.42)
    const disk = (await volumesOf(t.serverName!, s))?.get(t.slug) ?? null;
    await db.transaction(async (tx) => {
      await tx.query(`insert into resource_samples (tenant_id, server_id, memory_bytes, cpu_cores, disk_bytes) values ($1, $2, $3, $4, $5)`, [t.id, t.serverId, sample.memoryBytes, sample.cpuCores, disk]);
      for (const metric of USAGE_METRICS) {
        await tx.query(
          `insert into usage (period, tenant_id, tenant_slug, plan, metric, value) values ($1::date, $2, $3, $4, $5, $6)
           on conflict (period, tenant_id, metric) do update set value = excluded.value, plan = excluded.plan, collected_at = now()`,
          [period, t.id, t.slug, t.plan, metric, values[metric]],
        );
      }
    });
    return values;
  });
  return {
    period,
    results: settled.map((s) =>
      s.ok
        ? { tenant: s.item.slug, server: s.item.serverName ?? "?", ok: true, values: s.value }
        : { tenant: s.item.slug, server: s.item.serverName ?? "?", ok: false, error: ((s.error as Error)?.message ?? String(s.error)).split("\n")[0]! },
    ),
  };
}

/** The engine's disk usage of volumes only (`GET /system/df?type=volume`, Docker ≥ 23): tenant → bytes. */
async function diskUsage(s: ServerSession): Promise<Map<string, number>> {
  const { volumeBytesByTenant } = await import("../../core/usage/resources.js");
  const raw = await new Promise<unknown>((resolve, reject) =>
    // dockerode's df() sends no query: ask the modem directly for the volumes' part
    (s.docker.modem as unknown as { dial(o: object, cb: (err: unknown, data: unknown) => void): void }).dial(
      { path: "/system/df?", method: "GET", options: { type: "volume" }, statusCodes: { 200: true, 400: "bad parameter", 500: "server error" } },
      (err, data) => (err ? reject(err) : resolve(data)),
    ),
  );
  return volumeBytesByTenant(raw);
}
