import { homedir } from "node:os";
import { join, resolve } from "node:path";

// Light on purpose (no yaml, no zod): the CLI imports this on every start.

export interface ConfigSource {
  path: string;
  /** how it was found: the flag, BTW_CONFIG, ./btw.yml or $BTW_HOME/btw.yml */
  via: "--config" | "BTW_CONFIG" | "cwd" | "BTW_HOME";
}

export function btwHome(env: NodeJS.ProcessEnv): string {
  return env.BTW_HOME ? resolve(env.BTW_HOME) : join(homedir(), ".btw");
}

/** --config > BTW_CONFIG > ./btw.yml > $BTW_HOME/btw.yml. Returns null when none exists. */
export function findConfig(opts: { flag?: string; env: NodeJS.ProcessEnv; cwd: string; exists: (p: string) => boolean }): ConfigSource | null {
  if (opts.flag) return { path: resolve(opts.cwd, opts.flag), via: "--config" };
  if (opts.env.BTW_CONFIG) return { path: resolve(opts.cwd, opts.env.BTW_CONFIG), via: "BTW_CONFIG" };
  const local = join(opts.cwd, "btw.yml");
  if (opts.exists(local)) return { path: local, via: "cwd" };
  const home = join(btwHome(opts.env), "btw.yml");
  if (opts.exists(home)) return { path: home, via: "BTW_HOME" };
  return null;
}

