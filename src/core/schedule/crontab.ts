// The operator host's crontab entries: one marked block per btw home, replaced on every
// `schedule install` (never duplicated; the rest of the crontab is left as it is). Each line
// takes a per-job flock so a slow run is never overlapped by the next, and passes the
// jitter to `schedule run`, which sleeps inside the lock. Pure.

import { shellJoin } from "../shell.js";
import type { JobDef } from "./jobs.js";

export interface CrontabInput {
  jobs: readonly JobDef[];
  /** absolute paths */
  node: string;
  btw: string;
  configPath: string;
  home: string;
  jitterSec: number;
}

export function blockMarkers(home: string): { begin: string; end: string } {
  return { begin: `# BEGIN btw schedule ${home}`, end: `# END btw schedule ${home}` };
}

/** In a crontab line an unescaped % ends the command (the rest becomes stdin). */
function cronEscape(command: string): string {
  return command.replaceAll("%", "\\%");
}

export function jobCommand(i: CrontabInput, job: JobDef): string {
  const lock = `${i.home}/schedule/${job.name}.lock`;
  const log = `${i.home}/schedule/${job.name}.log`;
  const argv = ["flock", "-n", lock, i.node, i.btw, "--config", i.configPath, "--non-interactive", "schedule", "run", job.name, "--jitter", String(i.jitterSec)];
  return `BTW_HOME=${shellJoin([i.home])} ${shellJoin(argv)} >> ${shellJoin([log])} 2>&1`;
}

export function renderCrontabBlock(i: CrontabInput): string {
  const m = blockMarkers(i.home);
  const lines = [m.begin, "# managed by `btw schedule install`: edits inside this block are replaced"];
  for (const job of i.jobs) {
    if (!job.enabled) {
      lines.push(`# ${job.name}: disabled in btw.yml (schedule)`);
      continue;
    }
    lines.push(`# ${job.name}: ${job.description}`, `${job.cron} ${cronEscape(jobCommand(i, job))}`);
  }
  lines.push(m.end);
  return lines.join("\n") + "\n";
}

/**
 * The crontab with btw's block for this home put in place of the old one (or appended).
 * A block opened but never closed is refused: replacing it would eat the operator's lines.
 */
export function replaceCrontabBlock(existing: string, block: string, home: string): string {
  const m = blockMarkers(home);
  const lines = existing.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const blockLines = block.trimEnd() === "" ? [] : block.trimEnd().split("\n");
  const out: string[] = [];
  let inside = false;
  let placed = false;
  for (const line of lines) {
    if (line === m.begin) {
      if (inside) throw new Error(`the crontab has '${m.begin}' twice without '${m.end}'`);
      inside = true;
      continue;
    }
    if (line === m.end) {
      if (!inside) throw new Error(`the crontab has '${m.end}' without '${m.begin}'`);
      inside = false;
      if (!placed) out.push(...blockLines);
      placed = true;
      continue;
    }
    if (!inside) out.push(line);
  }
  if (inside) throw new Error(`the crontab has '${m.begin}' without '${m.end}': fix it with \`crontab -e\``);
  if (!placed) out.push(...blockLines);
  return out.length ? out.join("\n") + "\n" : "";
}

/** The crontab without this home's block. */
export function removeCrontabBlock(existing: string, home: string): string {
  return replaceCrontabBlock(existing, "", home);
}
