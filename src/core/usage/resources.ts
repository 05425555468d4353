// A tenant's real use of its server (issue 26), from the Docker engine's container stats
// (GET /containers/{id}/stats?stream=false): pure parsing and summing; the caller fetches.

export interface ResourceSample {
  /** working set: usage minus the inactive file cache (cgroup v1 total_inactive_file, v2 inactive_file), as `docker stats` shows */
  memoryBytes: number;
  /** CPUs used between Docker's two readings (~1 s apart) */
  cpuCores: number;
}

interface DockerStats {
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
}

export function parseContainerStats(raw: unknown): ResourceSample {
  const s = (raw ?? {}) as DockerStats;
  const usage = Number(s.memory_stats?.usage ?? 0);
  const st = s.memory_stats?.stats ?? {};
  const inactive = Number(st.total_inactive_file ?? st.inactive_file ?? 0);
  const memoryBytes = Math.max(0, usage - (inactive < usage ? inactive : 0));
  const cpuDelta = Number(s.cpu_stats?.cpu_usage?.total_usage ?? 0) - Number(s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = Number(s.cpu_stats?.system_cpu_usage ?? 0) - Number(s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = Number(s.cpu_stats?.online_cpus ?? 0) || 1;
  // a first reading (no precpu) or a stopped container gives no delta: no use measured
  const cpuCores = cpuDelta > 0 && sysDelta > 0 && Number(s.precpu_stats?.system_cpu_usage ?? 0) > 0 ? (cpuDelta / sysDelta) * cpus : 0;
  return { memoryBytes, cpuCores: Math.round(cpuCores * 1000) / 1000 };
}

interface DockerDiskUsage {
  Volumes?: Array<{ Name?: string; Labels?: Record<string, string> | null; UsageData?: { Size?: number } | null }> | null;
}

/**
 * Bytes of each tenant's volumes (Postgres, n8n's files, Redis; by their `btw.tenant` label),
 * from the engine's `GET /system/df?type=volume`. A volume the engine did not size (-1, or no
 * UsageData) counts 0; a scratch stack's volumes carry its own scratch name, not the tenant's.
 */
export function volumeBytesByTenant(raw: unknown): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of (raw as DockerDiskUsage | null)?.Volumes ?? []) {
    const tenant = v.Labels?.["btw.tenant"];
    if (!tenant) continue;
    const size = Number(v.UsageData?.Size ?? -1);
    out.set(tenant, (out.get(tenant) ?? 0) + (Number.isFinite(size) && size > 0 ? size : 0));
  }
  return out;
}

export function sumSamples(samples: readonly ResourceSample[]): ResourceSample {
  return samples.reduce((a, b) => ({ memoryBytes: a.memoryBytes + b.memoryBytes, cpuCores: Math.round((a.cpuCores + b.cpuCores) * 1000) / 1000 }), { memoryBytes: 0, cpuCores: 0 });
}
