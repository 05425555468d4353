// Host facts for `btw server check` and placement: one constant script (no interpolated
// values) printing key=value lines, and a pure parser for its output.

import { OperationError } from "../../errors.js";

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
  if (problems.length > 0) {
    throw new OperationError(`unexpected host facts output: ${problems.join(", ")}`, {
      code: "host-facts-unparsable",
      hint: "the server needs a POSIX sh, awk, df, nproc and /proc/meminfo (Linux)",
    });
  }
  return facts;
}
