import type { Command, Option } from "commander";

// The command table as shell completion sees it, read from the same commander tree that
// `--help` prints (src/cli/program.ts): names, descriptions, options, positional arguments,
// and what kind of value each argument or option takes. Pure: no I/O, no shell syntax.

/**
 * What to offer for a value. The names come from the state at completion time
 * (`btw __complete <kind>`); files and directories from the shell; words are fixed choices.
 */
export type ValueKind = "tenants" | "servers" | "plans" | "backups" | "files" | "dirs" | "none" | { words: string[] };

export const DYNAMIC_KINDS = ["tenants", "servers", "plans", "backups"] as const;
export type DynamicKind = (typeof DYNAMIC_KINDS)[number];

export interface OptionSpec {
  /** e.g. ["-c", "--config"] */
  flags: string[];
  description: string;
  /** undefined: a switch that takes no value */
  value?: ValueKind;
}

export interface ArgSpec {
  name: string;
  variadic: boolean;
  value: ValueKind;
}

export interface CommandSpec {
  /** words after `btw`, e.g. ["tenant", "domain", "add"]; [] for btw itself */
  path: string[];
  description: string;
  subcommands: CommandSpec[];
  /** this command's own options (the global ones are on the root only) */
  options: OptionSpec[];
  args: ArgSpec[];
}

/** Commands whose name starts with this are the shell's plumbing, never offered. */
export const HIDDEN_PREFIX = "__";

export function completionTree(program: Command): CommandSpec {
  return walk(program, []);
}

function walk(cmd: Command, path: string[]): CommandSpec {
  const options: OptionSpec[] = cmd.options.filter((o) => !o.hidden).map((o) => optionSpec(path, o));
  // commander handles -h/--help itself: not among cmd.options, accepted by every command
  if (path.length === 0) options.push({ flags: ["-h", "--help"], description: "display help for command" });
  return {
    path,
    description: cmd.description(),
    subcommands: cmd.commands.filter((c) => !c.name().startsWith(HIDDEN_PREFIX)).map((c) => walk(c, [...path, c.name()])),
    options,
    args: cmd.registeredArguments.map((a) => ({
      name: a.name(),
      variadic: a.variadic,
      value: a.argChoices ? { words: [...a.argChoices] } : argKind(path, a.name()),
    })),
  };
}

function optionSpec(path: string[], o: Option): OptionSpec {
  const flags = [o.short, o.long].filter((f): f is string => typeof f === "string");
  const spec: OptionSpec = { flags, description: o.description };
  if (o.required || o.optional) {
    const placeholder = /[<[]([^>\]]+?)(?:\.\.\.)?[>\]]/.exec(o.flags)?.[1] ?? "";
    spec.value = o.argChoices ? { words: [...o.argChoices] } : optionKind(path, (o.long ?? "").replace(/^--/, ""), placeholder);
  }
  return spec;
}

/**
 * A positional argument's kind, from its name: `<tenant>` and `<server>` say it; `<name>`
 * means the noun it sits under (`tenant show <name>`, `backup tenant <name>`), except where
 * the name is new (`tenant create`, `server add`).
 */
export function argKind(path: string[], name: string): ValueKind {
  if (name === "tenant") return "tenants";
  if (name === "server") return "servers";
  if (name === "name" || name === "names") {
    // a name being made is new: nothing to offer
    if (path[path.length - 1] === "create" || path[path.length - 1] === "add") return "none";
    const noun = [...path].reverse().find((p) => p === "tenant" || p === "server");
    return noun === "tenant" ? "tenants" : noun === "server" ? "servers" : "none";
  }
  if (name === "plan") return "plans";
  if (name === "file") return "files";
  // `backup show <id>`: a tenant backup of the state (a state backup's id lives in the storage)
  if (name === "id" && path[0] === "backup") return "backups";
  return "none";
}

/** An option's kind, from its long name and its value's placeholder (`--to <server>`). */
export function optionKind(path: string[], long: string, placeholder: string): ValueKind {
  if (long === "tenant") return "tenants";
  if (long === "server" || placeholder === "server") return "servers";
  if (long === "plan") return "plans";
  if (long === "backup" && path[0] !== "state") return "backups";
  if (placeholder === "file" || placeholder === "path") return "files";
  if (placeholder === "dir") return "dirs";
  return "none";
}

/** Every command, depth first, the root first. */
export function allCommands(root: CommandSpec): CommandSpec[] {
  return [root, ...root.subcommands.flatMap(allCommands)];
}
