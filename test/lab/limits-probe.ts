import type { LabConfig } from "./config.js";
import { LabError } from "./errors.js";
import { registryRef } from "./registry.js";
import { sshRun, type LabServer } from "./ssh.js";

// Later work sets per-plan CPU/memory/pids limits on tenant containers. This checks, inside
// a VM's own engine, that such limits are accepted, show in `docker inspect`, reach the
// cgroup files, and are enforced (a 200 MB allocation under 64m is OOM-killed; a fork past
// the pids limit fails).

export interface LimitsReport {
  server: string;
  cgroup: string;
  inspect: { memory: number; nanoCpus: number; pidsLimit: number };
  cgroupFiles: Record<string, string>;
  memoryEnforced: boolean;
  pidsEnforced: boolean;
}

const LIMITS = ["--memory", "64m", "--cpus", "0.5", "--pids-limit", "100"];

// Reads the limits from inside the limited container: cgroup v2 or v1 layout.
const READ_CGROUP = `
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  echo "cgroup=v2"
  echo "memory=$(cat /sys/fs/cgroup/memory.max)"
  echo "cpu=$(cat /sys/fs/cgroup/cpu.max)"
  echo "pids=$(cat /sys/fs/cgroup/pids.max)"
else
  echo "cgroup=v1"
  echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
  echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
  echo "pids=$(cat /sys/fs/cgroup/pids/pids.max)"
fi`;

export async function probeLimits(cfg: LabConfig, server: LabServer): Promise<LimitsReport> {
  const image = registryRef(cfg, "redis");
  const name = `btw-lab-limits-${process.pid}`;
  const ssh = (argv: string[]) => sshRun(server, argv, { timeoutMs: 180_000 });
  try {
    const started = await ssh(["docker", "run", "-d", "--name", name, ...LIMITS, "--entrypoint", "sleep", image, "300"]);
    if (!started.ok) throw new LabError(`limits probe on ${server.name}: docker run failed: ${started.stderr.split("\n").pop()}`);
    const inspect = await ssh(["docker", "inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", name]);
    const [memory = 0, nanoCpus = 0, pidsLimit = 0] = inspect.stdout.split(" ").map(Number);
    const files = await ssh(["docker", "exec", name, "sh", "-c", READ_CGROUP]);
    const cgroupFiles = Object.fromEntries(
      files.stdout.split("\n").map((l) => l.split("=", 2) as [string, string]).filter(([k, v]) => k && v !== undefined),
    );
    // dd allocates its 200 MB block in one go: under --memory 64m the kernel kills it.
    const oom = await ssh(["docker", "run", "--rm", ...LIMITS, "--entrypoint", "dd", image, "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"]);
    const fork = await ssh([
      "docker", "run", "--rm", ...LIMITS, "--entrypoint", "sh", image, "-c",
      "i=0; while [ $i -lt 150 ]; do sleep 30 & i=$((i+1)); done; echo forked $i",
    ]);
    return {
      server: server.name,
      cgroup: cgroupFiles.cgroup ?? "unknown",
      inspect: { memory, nanoCpus, pidsLimit },
      cgroupFiles,
      memoryEnforced: oom.exitCode === 137,
      pidsEnforced: !fork.stdout.includes("forked 150"),
    };
  } finally {
    await ssh(["docker", "rm", "-f", name]);
  }
}

/** Fails unless the limits show in inspect and in the cgroup files and are enforced. */
export function limitsProblems(r: LimitsReport): string[] {
  const problems: string[] = [];
  if (r.inspect.memory !== 64 * 1024 * 1024) problems.push(`inspect Memory=${r.inspect.memory}`);
  if (r.inspect.nanoCpus !== 500_000_000) problems.push(`inspect NanoCpus=${r.inspect.nanoCpus}`);
  if (r.inspect.pidsLimit !== 100) problems.push(`inspect PidsLimit=${r.inspect.pidsLimit}`);
  if (r.cgroupFiles.memory !== String(64 * 1024 * 1024)) problems.push(`cgroup memory=${r.cgroupFiles.memory}`);
  if (!["50000 100000"].includes(r.cgroupFiles.cpu ?? "")) problems.push(`cgroup cpu=${r.cgroupFiles.cpu}`);
  if (r.cgroupFiles.pids !== "100") problems.push(`cgroup pids=${r.cgroupFiles.pids}`);
  if (!r.memoryEnforced) problems.push("a 200 MB allocation under --memory 64m was not OOM-killed");
  if (!r.pidsEnforced) problems.push("150 processes started under --pids-limit 100");
  return problems;
}
