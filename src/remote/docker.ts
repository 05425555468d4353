import type Dockerode from "dockerode";
import { DeadlineError, seconds, watchStall, withDeadline } from "./deadline.js";
import type { SshClient } from "./ssh.js";

// dockerode against a server's engine through its Docker socket, forwarded over the server's
// SSH master connection (`ssh -L local.sock:/var/run/docker.sock`): no TCP port is opened
// on the server, and the same pinned host key and credentials apply.
//
// Every Docker API call goes through dockerCall (a total deadline) or, for the streams that
// last as long as their data (exec output, archives), dockerStall (a stall deadline): a hung
// dockerd fails the call with one line naming the call and the server.

export interface RemoteDocker {
  docker: Dockerode;
  close(): Promise<void>;
}

export interface DockerDeadlines {
  /** a call that answers once: list, inspect, exec create/start/inspect, stats */
  callMs: number;
  /** a stream (exec output, an archive out or in): nothing moved for this long while we waited on the engine */
  stallMs: number;
}

export const DOCKER_DEADLINES: DockerDeadlines = { callMs: 60_000, stallMs: 5 * 60_000 };

interface Engine {
  server: string;
  deadlines: DockerDeadlines;
}

// Which server an engine client talks to, for the messages: the helpers below take the
// Dockerode that flows through ServerSession, so it is looked up rather than passed along.
const engines = new WeakMap<Dockerode, Engine>();

function engineOf(docker: Dockerode): Engine {
  return engines.get(docker) ?? { server: "?", deadlines: DOCKER_DEADLINES };
}

/** dockerode on a local socket that reaches `server`'s engine. */
export async function dockerAt(socketPath: string, server: string, deadlines: Partial<DockerDeadlines> = {}): Promise<Dockerode> {
  const { default: Docker } = await import("dockerode");
  const docker = new Docker({ socketPath });
  engines.set(docker, { server, deadlines: { ...DOCKER_DEADLINES, ...deadlines } });
  return docker;
}

export async function remoteDocker(ssh: SshClient, socket = "/var/run/docker.sock", deadlines: Partial<DockerDeadlines> = {}): Promise<RemoteDocker> {
  const fwd = await ssh.forwardUnixSocket(socket);
  return { docker: await dockerAt(fwd.localPath, ssh.name, deadlines), close: () => fwd.close() };
}

const hint = (server: string) => `is its Docker engine hung? check with: btw server check ${server}`;

/** One Docker API call with its deadline; `fn` passes the signal on as dockerode's abortSignal. */
export function dockerCall<T>(docker: Dockerode, what: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const { server, deadlines } = engineOf(docker);
  return withDeadline(
    {
      ms: deadlines.callMs,
      error: () => new DeadlineError(`the Docker API on server '${server}' did not answer ${what} within ${seconds(deadlines.callMs)}`, { code: "docker-timeout", server, hint: hint(server) }),
    },
    fn,
  );
}

/**
 * Watches a Docker stream for stalls: `blocked` says when we are waiting on the engine; after
 * the stall deadline the stream is destroyed with a DeadlineError naming `what` and the server.
 * Returns the watch (call progress() on bytes moved; it stops itself when the stream closes).
 */
export function dockerStall(docker: Dockerode, stream: NodeJS.ReadableStream | NodeJS.WritableStream, what: string, blocked: () => boolean) {
  const { server, deadlines } = engineOf(docker);
  const s = stream as unknown as { destroy(e?: Error): void; once(ev: string, fn: () => void): void };
  const watch = watchStall({
    ms: deadlines.stallMs,
    blocked,
    onStall: () => s.destroy(new DeadlineError(`the Docker API on server '${server}' moved no data for ${seconds(deadlines.stallMs)}: ${what}`, { code: "docker-stalled", server, hint: hint(server) })),
  });
  s.once("close", () => watch.stop());
  return watch;
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
  const list = await dockerCall(docker, "the listing of btw's containers", (abortSignal) => docker.listContainers({ all: true, filters: { label: ["btw.tenant"] }, abortSignal }));
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
    const s = (await dockerCall(docker, `the stats of ${name}`, (abortSignal) => docker.getContainer(name).stats({ stream: false, abortSignal } as { stream: false }))) as unknown as {
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
