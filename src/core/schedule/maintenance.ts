// The server maintenance job's remote commands and how their output is read. Pure: argv
// arrays (quoted by the SSH client's one join) and parsers.

export function pruneImages(olderThanHours: number): string[] {
  return ["docker", "image", "prune", "--all", "--force", "--filter", `until=${Math.trunc(olderThanHours)}h`];
}

export function pruneBuildCache(olderThanHours: number): string[] {
  return ["docker", "builder", "prune", "--all", "--force", "--filter", `until=${Math.trunc(olderThanHours)}h`];
}

/** POSIX df of the root disk and Docker's (often the same file system). */
export function diskUsage(): string[] {
  return ["df", "-P", "-k", "/", "/var/lib/docker"];
}

/** Container logs on disk (json-file driver), in KiB. */
export function containerLogsSize(): string[] {
  return ["sh", "-c", 'du -sk /var/lib/docker/containers 2>/dev/null | cut -f1'];
}

export interface DiskLine {
  mount: string;
  usedPercent: number;
  availKb: number;
}

/** `df -P` output → one line per file system (duplicates, when both paths share one, dropped). */
export function parseDf(output: string): DiskLine[] {
  const seen = new Set<string>();
  const out: DiskLine[] = [];
  for (const line of output.trim().split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const mount = f.slice(5).join(" ");
    if (seen.has(mount)) continue;
    seen.add(mount);
    out.push({ mount, usedPercent: Number(f[4]!.replace("%", "")), availKb: Number(f[3]) });
  }
  return out;
}

/** "Total reclaimed space: 1.2GB" → "1.2GB" (Docker's own units), or null. */
export function reclaimed(output: string): string | null {
  return /Total reclaimed space:\s*(\S+)/.exec(output)?.[1] ?? null;
}
