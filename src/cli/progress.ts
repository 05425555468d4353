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

/**
 * Steps that do not depend on each other, run at once as one step (each keeps its own skip,
 * so a journal still skips what an earlier run finished). Waits for all of them before
 * failing with the first error: no step is left running behind a reported failure.
 */
export function concurrently<T>(steps: ProgressStep<T>[]): ProgressStep<T> {
  const skipOf = async (s: ProgressStep<T>, state: T) => (s.skip ? s.skip(state) : false);
  return {
    title: steps.map((s) => s.title).join(" | "),
    skip: async (state) => {
      const why = await Promise.all(steps.map((s) => skipOf(s, state)));
      return why.every((w) => w !== false) ? why.join("; ") : false;
    },
    run: async (state) => {
      const todo: ProgressStep<T>[] = [];
      for (const s of steps) if ((await skipOf(s, state)) === false) todo.push(s);
      const results = await Promise.allSettled(todo.map((s) => s.run(state)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      const said = results.flatMap((r, i) => (r.status === "fulfilled" && r.value ? [`${todo[i]!.title}: ${r.value}`] : []));
      return said.length ? said.join("; ") : undefined;
    },
  };
}
