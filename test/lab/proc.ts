import { readFileSync } from "node:fs";

// PID 1 on this machine kind does not reap orphans promptly: a dead daemon can linger as a
// zombie, which `kill(pid, 0)` still reports as alive. Read the state from /proc instead.

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S …": the state follows the last ')' (comm may contain spaces or parens).
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export function processCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Mount points at or below `dir` (deepest first), from this process's mount table. */
export function mountsUnder(dir: string): string[] {
  const table = readFileSync("/proc/self/mountinfo", "utf8");
  return table
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mp) => mp === dir || mp.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}
