// Host facts for `btw server check` and placement: one constant script (no interpolated
// values) printing key=value lines, and a pure parser for its output.

import { OperationError } from "../../errors.js";

// A server that is itself a container or sits in a limited slice (the lab's servers; a host
// with a systemd slice limit) sees the whole machine's RAM and CPUs in /proc: its cgroup's
// limits — the smallest along its path up, cgroup v2 or v1 — are what its tenants really have.
// v1's "no limit" is a huge number, larger than any RAM: the caller takes the minimum with it.
const CGROUP_LIMITS_SCRIPT = String.raw`mem= cpu=
mem_at() { case "$1" in ''|max|*[!0-9]*) return ;; esac; if [ -z "$mem" ] || [ "$1" -lt "$mem" ]; then mem=$1; fi; }
cpu_at() { case "$1" in ''|max|-*|*[!0-9]*) return ;; esac; [ "$2" -gt 0 ] 2>/dev/null || return; m=$(($1 * 1000 / $2)); if [ -z "$cpu" ] || [ "$m" -lt "$cpu" ]; then cpu=$m; fi; }
walk() {
  p=$2
  while :; do
    d=$1$p
    case $3 in
      v2) [ -r "$d/memory.max" ] && read -r v < "$d/memory.max" && mem_at "$v"
          [ -r "$d/cpu.max" ] && read -r q per < "$d/cpu.max" && cpu_at "$q" "$per" ;;
      mem) [ -r "$d/memory.limit_in_bytes" ] && read -r v < "$d/memory.limit_in_bytes" && mem_at "$v" ;;
      cpu) [ -r "$d/cpu.cfs_quota_us" ] && read -r q < "$d/cpu.cfs_quota_us" && read -r per < "$d/cpu.cfs_period_us" && cpu_at "$q" "$per" ;;
    esac
    if [ -z "$p" ] || [ "$p" = / ]; then break; fi
    p=$(dirname "$p")
  done
}
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  walk /sys/fs/cgroup "$(sed -n 's/^0:://p' /proc/self/cgroup 2>/dev/null)" v2
else
  walk /sys/fs/cgroup/memory "$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup 2>/dev/null)" mem
  walk /sys/fs/cgroup/cpu "$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' /proc/self/cgroup 2>/dev/null)" cpu
fi
[ -n "$mem" ] && echo "mem_limit_kb=$((mem / 1024))"
[ -n "$cpu" ] && echo "cpu_limit_milli=$cpu"
true`;

// Needs only a POSIX sh, awk, sed, tr, df, uname and nproc (or getconf) — no bash, no procps.
// Disk is measured where Docker keeps its data, falling back to / before Docker is installed.
export const HOST_FACTS_SCRIPT = [
  "LC_ALL=C; export LC_ALL",
  'echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"',
  "awk '/^MemTotal:/ {print \"mem_total_kb=\" $2} /^MemAvailable:/ {print \"mem_available_kb=\" $2}' /proc/meminfo",
  "d=/var/lib/docker; [ -d \"$d\" ] || d=/",
  'echo "disk_path=$d"',
  "df -Pk \"$d\" | awk 'NR==2 {print \"disk_total_kb=\" $2; print \"disk_free_kb=\" $4}'",
  'echo "kernel=$(uname -r)"',
  'echo "arch=$(uname -m)"',
  "sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d \"\\\"'\" | sed 's/^/os=/'",
  CGROUP_LIMITS_SCRIPT,
].join("\n");

export function hostFacts(): string[] {
  return ["sh", "-c", HOST_FACTS_SCRIPT];
}

export interface HostFacts {
  cpus: number;
  memTotalBytes: number;
  memAvailableBytes: number;
  /** /var/lib/docker when present, else / */
  diskPath: string;
  diskTotalBytes: number;
  diskFreeBytes: number;
  kernel: string;
  arch: string;
  /** PRETTY_NAME from /etc/os-release, or "unknown" */
  os: string;
  /** the server's cgroup memory limit when it has one (a container or a slice), else absent */
  memLimitBytes?: number;
  /** the server's cgroup CPU quota in CPUs when it has one, else absent */
  cpuLimit?: number;
}

const NUMBERS = ["cpus", "mem_total_kb", "mem_available_kb", "disk_total_kb", "disk_free_kb"] as const;
const STRINGS = ["disk_path", "kernel", "arch"] as const;

/** Parse HOST_FACTS_SCRIPT output. Throws `host-facts-unparsable` naming missing/bad keys. */
export function parseHostFacts(stdout: string): HostFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const problems: string[] = [];
  const num = (key: (typeof NUMBERS)[number]): number => {
    const raw = kv.get(key);
    if (raw === undefined || !/^\d+$/.test(raw)) {
      problems.push(raw === undefined ? `${key} missing` : `${key} not a number`);
      return 0;
    }
    return Number(raw);
  };
  const str = (key: (typeof STRINGS)[number]): string => {
    const raw = kv.get(key);
    if (!raw) problems.push(`${key} missing`);
    return raw ?? "";
  };
  const facts: HostFacts = {
    cpus: num("cpus"),
    memTotalBytes: num("mem_total_kb") * 1024,
    memAvailableBytes: num("mem_available_kb") * 1024,
    diskPath: str("disk_path"),
    diskTotalBytes: num("disk_total_kb") * 1024,
    diskFreeBytes: num("disk_free_kb") * 1024,
    kernel: str("kernel"),
    arch: str("arch"),
    os: kv.get("os") || "unknown",
  };
  // optional: only a server in a cgroup with limits prints them
  const memLimit = kv.get("mem_limit_kb");
  // a "limit" at or above the machine's RAM or CPUs (cgroup v1's huge "unlimited") is none
  if (memLimit !== undefined && /^\d+$/.test(memLimit) && Number(memLimit) * 1024 < facts.memTotalBytes) facts.memLimitBytes = Number(memLimit) * 1024;
  const cpuLimit = kv.get("cpu_limit_milli");
  if (cpuLimit !== undefined && /^\d+$/.test(cpuLimit) && Number(cpuLimit) / 1000 < facts.cpus) facts.cpuLimit = Number(cpuLimit) / 1000;
  if (problems.length > 0) {
    throw new OperationError(`unexpected host facts output: ${problems.join(", ")}`, {
      code: "host-facts-unparsable",
      hint: "the server needs a POSIX sh, awk, df, nproc and /proc/meminfo (Linux)",
    });
  }
  return facts;
}
