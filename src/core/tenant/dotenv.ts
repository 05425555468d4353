// Writing values for Docker Compose's env-file parser (compose-go's dotenv, Compose ≥ 2.24):
//
// - unquoted: runs to the end of the line, ` #` starts a comment, trailing blanks are
//   trimmed and `$VAR`/`${VAR}` are expanded — so only plain words go unquoted;
// - '…': literal, no expansion; the only escape is \' — so a value with a quote or a
//   backslash (a trailing one would escape the closing quote) does not go in single quotes;
// - "…": `\\ \" \$ \n \r` (and a few more) are escapes and `$VAR` is expanded; escaping
//   every backslash, quote and dollar writes any value.
// The value of an .env entry is never interpolated again when Compose substitutes it into
// the compose file, so what we write here is what the container sees.

import { UsageError } from "../../errors.js";

const BARE = /^[A-Za-z0-9_.\/:@+,%=-]*$/;
const KEY = /^[A-Z_][A-Z0-9_]*$/;

/** One value as Compose's dotenv parser reads it back byte for byte. */
export function quoteEnvValue(value: string): string {
  if (value.includes("\0")) throw new UsageError("an .env value contains a NUL byte", { code: "invalid-env-value" });
  if (BARE.test(value)) return value;
  if (!/['\\\n\r]/.test(value)) return `'${value}'`;
  const escaped = value.replace(/[\\"$\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\${c}`));
  return `"${escaped}"`;
}

export interface EnvSection {
  /** comment line(s) written above the entries */
  comment: string;
  entries: ReadonlyArray<readonly [key: string, value: string]>;
}

/** Render sections as an env file: `# comment`, then KEY=value lines, a blank line between. */
export function renderEnvFile(header: readonly string[], sections: readonly EnvSection[]): string {
  const seen = new Set<string>();
  const blocks = sections.map((section) => {
    const lines = section.comment.split("\n").map((l) => `# ${l}`.trimEnd());
    for (const [key, value] of section.entries) {
      if (!KEY.test(key)) throw new UsageError(`invalid .env key '${key}'`, { code: "invalid-env-key" });
      if (seen.has(key)) throw new UsageError(`duplicate .env key '${key}'`, { code: "invalid-env-key" });
      seen.add(key);
      lines.push(`${key}=${quoteEnvValue(value)}`);
    }
    return lines.join("\n");
  });
  const head = header.map((l) => `# ${l}`.trimEnd()).join("\n");
  return `${[head, ...blocks].filter((b) => b !== "").join("\n\n")}\n`;
}
