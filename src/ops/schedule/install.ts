// `btw schedule install`: this host's crontab with btw's block (for this BTW_HOME) put in
// place — read with `crontab -l`, written whole with `crontab -` (one atomic replace).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { renderCrontabBlock, replaceCrontabBlock } from "../../core/schedule/crontab.js";
import { scheduledJobs } from "../../core/schedule/jobs.js";
import { OperationError, UsageError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";

export function crontabBlock(ctx: Ctx): string {
  const source = ctx.configSource();
  if (!source) throw new UsageError("no configuration found", { hint: "run `btw init`" });
  return renderCrontabBlock({
    jobs: scheduledJobs(ctx.config.schedule),
    node: process.execPath,
    btw: join(packageRoot(), "bin", "btw"),
    configPath: source.path,
    home: ctx.home,
    jitterSec: ctx.config.schedule.jitterSec,
  });
}

async function crontab(args: string[], input?: string) {
  const { runLocal } = await import("../../remote/local-process.js");
  try {
    return await runLocal("crontab", args, { timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });
  } catch (e) {
    throw new OperationError(`cannot run crontab: ${(e as Error).message}`, { code: "crontab-missing", hint: "install cron (Debian: apt-get install cron)" });
  }
}

export async function readCrontab(): Promise<string> {
  const r = await crontab(["-l"]);
  if (r.code === 0) return r.stdout;
  if (/no crontab for/i.test(r.stderr)) return "";
  throw new OperationError(`crontab -l failed: ${r.stderr.trim()}`, { code: "crontab-failed" });
}

export async function installCrontab(ctx: Ctx, block: string): Promise<{ changed: boolean }> {
  mkdirSync(join(ctx.home, "schedule"), { recursive: true, mode: 0o700 });
  const before = await readCrontab();
  const after = replaceCrontabBlock(before, block, ctx.home);
  if (after === before) return { changed: false };
  const w = await crontab(["-"], after);
  if (w.code !== 0) throw new OperationError(`crontab - failed: ${w.stderr.trim()}`, { code: "crontab-failed" });
  return { changed: true };
}
