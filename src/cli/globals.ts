import type { Io } from "./io.js";

/** The options every command accepts (defined once on the program). */
export interface GlobalOptions {
  config?: string;
  json: boolean;
  verbose: boolean;
  color: boolean;
  nonInteractive: boolean;
}

export function resolveGlobals(raw: Record<string, unknown>, io: Io): GlobalOptions {
  const env = io.env;
  const noColorEnv = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  return {
    config: typeof raw.config === "string" ? raw.config : undefined,
    json: raw.json === true,
    verbose: raw.verbose === true,
    color: raw.color !== false && !noColorEnv && io.stderrIsTTY,
    // Cron and CI never answer prompts: a missing answer must fail naming the flag, not hang.
    nonInteractive: raw.nonInteractive === true || !io.stdinIsTTY || Boolean(env.CI),
  };
}
