import { allCommands, type CommandSpec, type OptionSpec, type ValueKind } from "./tree.js";

// What the three shells' scripts share: the command table flattened into the rows their
// `case`/`switch` data functions are written from. Each script walks the command line the
// same way (src/cli/completion/{bash,zsh,fish}.ts): words that name a subcommand extend the
// path, an option that takes a value consumes the next word, the rest are positionals.

/** A kind as one shell word: `tenants`, `files`, `none`, `words:a b c`. */
export function kindToken(k: ValueKind): string {
  return typeof k === "string" ? k : `words:${k.words.join(" ")}`;
}

export interface Row {
  /** the command path, words joined by one space ("" for btw itself) */
  path: string;
  subcommands: Array<{ name: string; description: string }>;
  /** its own options, and for the root the global ones */
  options: OptionSpec[];
  /** [flag, kind] of every option of this path that takes a value */
  valued: Array<[string, string]>;
  /** positional index → kind; the variadic last one under "*" */
  args: Array<[string, string]>;
}

export function rows(root: CommandSpec): Row[] {
  return allCommands(root).map((c) => ({
    path: c.path.join(" "),
    subcommands: c.subcommands.map((s) => ({ name: s.path[s.path.length - 1]!, description: firstLine(s.description) })),
    options: c.options,
    valued: c.options.flatMap((o) => (o.value ? o.flags.map((f): [string, string] => [f, kindToken(o.value!)]) : [])),
    args: c.args.map((a, i): [string, string] => [a.variadic ? "*" : String(i), kindToken(a.value)]),
  }));
}

/** The root's options apply everywhere (commander: optsWithGlobals), but the version only at the top. */
export function globalOptions(root: CommandSpec): OptionSpec[] {
  return root.options.filter((o) => !o.flags.includes("--version"));
}

export function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}

/** POSIX single quotes (bash, zsh): the only character to take care of is ' itself. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** bash/zsh `case "$1|$2"` lines setting REPLY: command path and option → the kind of the option's value. */
export function optionKindCases(table: Row[], globals: OptionSpec[]): string[] {
  return [
    ...table.filter((r) => r.path !== "").flatMap((r) => r.valued.map(([flag, kind]) => `    ${shQuote(`${r.path}|${flag}`)}) REPLY=${shQuote(kind)} ;;`)),
    ...globals.filter((o) => o.value).map((o) => `    ${o.flags.map((f) => `*${shQuote(`|${f}`)}`).join("|")}) REPLY=${shQuote(kindToken(o.value!))} ;;`),
  ];
}

/** bash/zsh `case "$1|$2"` lines setting REPLY: command path and positional index → its kind; a variadic last one matches any index. */
export function argKindCases(table: Row[]): string[] {
  return table.flatMap((r) => r.args.map(([i, kind]) => `    ${i === "*" ? `${shQuote(`${r.path}|`)}*` : shQuote(`${r.path}|${i}`)}) REPLY=${shQuote(kind)} ;;`));
}
