// The one place an argument becomes shell text. Remote commands travel as argv arrays until
// the SSH client joins them with `shellJoin`; nothing else may build a command string.
//
// POSIX single-quote style: inside '…' every byte is literal except the closing quote, so a
// quote is written as '\'' (close, escaped quote, reopen). That holds for sh, dash, bash,
// ksh and zsh — the login shells sshd hands our command line to. (fish is not supported:
// its single quotes treat backslashes specially.)

import { UsageError } from "../errors.js";

// Words made only of these characters mean the same to every POSIX shell unquoted: no
// globbing, expansion, word splitting, redirection or comment. `=` is allowed but not first
// (zsh's `=cmd` expansion); `~` is absent (tilde expansion).
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/;

/** Quote one argument so a POSIX shell reads it back as exactly one word, byte for byte. */
export function shellQuote(arg: string): string {
  if (arg.includes("\0")) {
    // An exec argv cannot carry NUL; refusing beats silently truncating. The value itself is
    // never echoed — it might be a secret.
    throw new UsageError("an argument for a remote command contains a NUL byte", {
      code: "invalid-argument",
    });
  }
  if (arg === "") return "''";
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Join argv into one command line whose words, as a POSIX shell parses it, are argv. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
