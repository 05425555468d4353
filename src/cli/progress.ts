import type { Ctx } from "./context.js";

// Progress for multi-step jobs: listr2's full renderer on a TTY, plain timestamped lines
// otherwise (cron mail, CI logs), nothing with --json. Always on stderr.

export interface ProgressStep<T> {
  title: string;
  /** return a string to show as the step's outcome; throw to fail */
  run: (state: T) => Promise<string | void>;
  /** why it is skipped (e.g. done in an earlier run), or false */
  skip?: (state: T) => string | false | Promise<string | false>;
}

export async function runWithProgress<T>(ctx: Ctx, state: T, steps: ProgressStep<T>[], heading?: string): Promise<void> {
  if (ctx.globals.json) {
    for (const s of steps) if (!(s.skip && (await s.skip(state)))) await s.run(state);
    return;
  }
  const { Listr, ListrLogger, ProcessOutput, PRESET_TIMESTAMP } = await import("listr2");
  // Both of listr2's streams go to stderr: stdout carries the command's data only.
  const stderr = ctx.io.stderr as NodeJS.WriteStream;
  const logger = new ListrLogger({ useIcons: true, processOutput: new ProcessOutput(stderr, stderr) });
  const tty = ctx.io.stderrIsTTY && !ctx.env.CI;
  const list = new Listr(
    steps.map((s) => ({
      title: s.title,
      skip: s.skip ? () => s.skip!(state) : undefined,
      task: async (_c: unknown, task: { output: string; title: string }) => {
        const t0 = Date.now();
        const outcome = await s.run(state);
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        task.title = `${s.title}${outcome ? `: ${outcome}` : ""} (${secs}s)`;
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      renderer: tty ? "default" : "simple",
      fallbackRenderer: "simple",
      rendererOptions: tty ? { collapseSubtasks: false, logger } : { timestamp: PRESET_TIMESTAMP, logger },
      fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP, logger },
      ...(heading ? {} : {}),
    } as never,
  );
  if (heading) ctx.out.info(heading);
  await list.run();
}
