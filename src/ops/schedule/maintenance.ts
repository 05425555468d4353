// The server maintenance job: on every server, unused images and build cache older than
// schedule.maintenance.pruneOlderThanHours removed, disk use and container logs measured.
// An unreachable server or a disk fuller than diskWarnPercent makes the run partial (exit 3).

import type { Ctx } from "../../cli/context.js";
import { containerLogsSize, diskUsage, parseDf, pruneBuildCache, pruneImages, reclaimed, type DiskLine } from "../../core/schedule/maintenance.js";

interface ServerOutcome {
  server: string;
  ok: boolean;
  error?: string;
  reclaimedImages?: string | null;
  reclaimedBuildCache?: string | null;
  disks?: DiskLine[];
  containerLogsKb?: number | null;
  warnings?: string[];
}

/** The commands the job runs on each server, for its plan (`schedule run maintenance --dry-run`). */
export async function maintenanceCommands(ctx: Ctx): Promise<Array<{ server: string; commands: string[][] }>> {
  const { listServers } = await import("../../state/servers.js");
  const hours = ctx.config.schedule.maintenance.pruneOlderThanHours;
  const commands = [pruneImages(hours), pruneBuildCache(hours), diskUsage(), containerLogsSize()];
  return (await listServers(await ctx.db())).map((s) => ({ server: s.name, commands }));
}

export async function maintainServers(ctx: Ctx): Promise<{ code: number; report: string }> {
  const db = await ctx.db();
  const { listServers } = await import("../../state/servers.js");
  const { sshFor } = await import("../server/context.js");
  const m = ctx.config.schedule.maintenance;
  const servers = await listServers(db);
  const results: ServerOutcome[] = await Promise.all(
    servers.map(async (s): Promise<ServerOutcome> => {
      try {
        const ssh = await sshFor(ctx, s);
        const images = await ssh.run(pruneImages(m.pruneOlderThanHours), { timeoutMs: 30 * 60_000 });
        const cache = await ssh.run(pruneBuildCache(m.pruneOlderThanHours), { timeoutMs: 30 * 60_000, allowFailure: true });
        const df = await ssh.run(diskUsage(), { allowFailure: true, timeoutMs: 60_000 });
        const logs = await ssh.run(containerLogsSize(), { allowFailure: true, timeoutMs: 5 * 60_000 });
        const disks = parseDf(df.stdout);
        const warnings = disks.filter((d) => d.usedPercent > m.diskWarnPercent).map((d) => `${d.mount} is ${d.usedPercent} % full (limit ${m.diskWarnPercent} %)`);
        const kb = Number(logs.stdout.trim());
        return {
          server: s.name,
          ok: warnings.length === 0,
          reclaimedImages: reclaimed(images.stdout),
          reclaimedBuildCache: cache.exitCode === 0 ? reclaimed(cache.stdout) : null,
          disks,
          containerLogsKb: Number.isFinite(kb) && logs.stdout.trim() !== "" ? kb : null,
          warnings,
        };
      } catch (e) {
        return { server: s.name, ok: false, error: (e as Error).message };
      }
    }),
  );
  const bad = results.filter((r) => !r.ok);
  const lines = results.map((r) =>
    r.error ? `✗ ${r.server}: ${r.error}`
    : `${r.ok ? "✓" : "!"} ${r.server}: images ${r.reclaimedImages ?? "0B"}, build cache ${r.reclaimedBuildCache ?? "0B"} reclaimed; ${r.disks!.map((d) => `${d.mount} ${d.usedPercent} %`).join(", ")}${r.warnings!.length ? `; ${r.warnings!.join("; ")}` : ""}`,
  );
  const report = `${lines.join("\n")}\n${JSON.stringify({ ok: bad.length === 0, servers: results })}\n`;
  return { code: bad.length === 0 ? 0 : servers.length > 0 && bad.length === servers.length && results.every((r) => r.error) ? 1 : 3, report };
}
