import { CommanderError } from "commander";
import { packageVersion } from "../package-root.js";
import { BtwError, ExitCode, isBtwError } from "../errors.js";
import { Ctx } from "./context.js";
import { resolveGlobals } from "./globals.js";
import { processIo, type Io } from "./io.js";
import { buildProgram, type Dispatch } from "./program.js";

/** Runs one btw invocation and returns its exit code. Never calls process.exit. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const dispatch: Dispatch = {};
  const program = buildProgram(packageVersion(), dispatch);
  const writeErr = (s: string) => io.stderr.write(s);
  program.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr, outputError: (s) => writeErr(s) });
  for (const sub of allCommands(program)) sub.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr, outputError: (s) => writeErr(s) });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return ExitCode.ok;
      // Commander already printed its one-line message; usage errors are exit 2.
      return ExitCode.usage;
    }
    throw e;
  }
  if (!dispatch.loader) {
    // A bare noun (`btw server`): show its help, which is what the operator wanted to see.
    (dispatch.command ?? program).outputHelp({ error: true });
    return ExitCode.usage;
  }

  const opts = dispatch.opts ?? {};
  const globals = resolveGlobals(opts, io);
  const ctx = new Ctx(io, globals, ["btw", ...argv].join(" "));
  try {
    const [mod] = await Promise.all([dispatch.loader(), ctx.prepare()]);
    const code = await mod.default(ctx, dispatch.args ?? [], opts);
    return typeof code === "number" ? code : ExitCode.ok;
  } catch (e) {
    return reportError(e, ctx, globals.verbose);
  } finally {
    await ctx.close();
  }
}

function allCommands(cmd: import("commander").Command): import("commander").Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Prints the error once: one line, the hint, and with --json an error object on stdout. */
export function reportError(e: unknown, ctx: Ctx, verbose: boolean): number {
  const err: BtwError = isBtwError(e)
    ? e
    : new BtwError("internal", `unexpected error: ${(e as Error)?.message ?? String(e)}`, ExitCode.failed, {
        hint: "re-run with --verbose for the stack trace; please report it",
        cause: e,
      });
  ctx.out.info(`${ctx.out.paint("error:", 31)} ${err.message}`);
  if (err.hint) ctx.out.info(`${ctx.out.paint("hint:", 36)} ${err.hint}`);
  if (verbose && err.cause instanceof Error && err.cause.stack) ctx.out.info(err.cause.stack);
  else if (verbose && !isBtwError(e) && e instanceof Error && e.stack) ctx.out.info(e.stack);
  if (ctx.globals.json) {
    ctx.io.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint ?? null, exitCode: err.exitCode, ...(err.details ? { details: err.details } : {}) } }, null, 2) + "\n");
  }
  return err.exitCode;
}
