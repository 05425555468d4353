import type Dockerode from "dockerode";
import type { SshClient } from "./ssh.js";

// dockerode against a server's engine through its Docker socket, forwarded over the server's
// SSH master connection (`ssh -L local.sock:/var/run/docker.sock`): no TCP port is opened
// on the server, and the same pinned host key and credentials apply.

export interface RemoteDocker {
  docker: Dockerode;
  close(): Promise<void>;
}

export async function remoteDocker(ssh: SshClient, socket = "/var/run/docker.sock"): Promise<RemoteDocker> {
  const { default: Docker } = await import("dockerode");
  const fwd = await ssh.forwardUnixSocket(socket);
  return { docker: new Docker({ socketPath: fwd.localPath }), close: () => fwd.close() };
}

export interface ContainerSummary {
  name: string;
  tenant: string | null;
  service: string | null;
  state: string;
  /** healthy | unhealthy | starting | null (no health check) */
  health: string | null;
  status: string;
}

export async function listBtwContainers(docker: Dockerode): Promise<ContainerSummary[]> {
  const list = await docker.listContainers({ all: true, filters: { label: ["btw.tenant"] } });
  return list.map((c) => ({
    name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
    tenant: c.Labels["btw.tenant"] ?? null,
    service: c.Labels["btw.service"] ?? c.Labels["com.docker.compose.service"] ?? null,
    state: c.State,
    health: /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace("health: ", "") ?? null,
    status: c.Status,
  }));
}

export interface ContainerUsage {
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
}

/** One-shot stats (dockerode `stats({stream:false})`), CPU as a percentage of one core. */
export async function containerUsage(docker: Dockerode, name: string): Promise<ContainerUsage | null> {
  try {
    const s = (await docker.getContainer(name).stats({ stream: false })) as unknown as {
      cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
      precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
      memory_stats: { usage?: number; limit?: number; stats?: { inactive_file?: number } };
      pids_stats?: { current?: number };
    };
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
    const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats.online_cpus ?? 1;
    return {
      cpuPercent: sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
      memoryBytes: (s.memory_stats.usage ?? 0) - (s.memory_stats.stats?.inactive_file ?? 0),
      memoryLimitBytes: s.memory_stats.limit ?? 0,
      pids: s.pids_stats?.current ?? 0,
    };
  } catch {
    return null;
  }
}
