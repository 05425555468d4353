// Remote file operations. Paths and modes travel as positional arguments ("$1", "$2") of a
// constant script — never spliced into shell text.

import { UsageError } from "../../errors.js";
import { requireAbsolutePath, requireDeepPath } from "./paths.js";

/** `mkdir -p`; with `mode`, the last directory gets that mode (parents keep the umask). */
export function mkdirP(path: string, mode?: string): string[] {
  requireAbsolutePath(path);
  return mode === undefined
    ? ["mkdir", "-p", "--", path]
    : ["mkdir", "-p", "-m", requireMode(mode), "--", path];
}

// Reads stdin into a temp file beside the target (same filesystem, so `mv` is an atomic
// rename), sets the mode, then renames over the target. umask 077 keeps the temp file
// private before chmod; the trap removes it if any step fails. `$$` keeps two concurrent
// writers from sharing a temp file.
export const WRITE_FILE_ATOMIC_SCRIPT =
  'umask 077; t="$1.btw-tmp.$$"; trap \'rm -f "$t"\' EXIT; cat > "$t" && chmod "$2" "$t" && mv -f "$t" "$1"';

/** Write stdin to `path` atomically with `mode` (octal string, e.g. "0600"). */
export function writeFileAtomic(path: string, mode: string): string[] {
  requireDeepPath(path);
  return ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", path, requireMode(mode)];
}

/** `rm -rf` of a directory tree; refuses `/`, empty, relative and top-level paths. */
export function removeTree(path: string): string[] {
  requireDeepPath(path);
  return ["rm", "-rf", "--", path];
}

function requireMode(mode: string): string {
  if (!/^[0-7]{3,4}$/.test(mode)) {
    throw new UsageError(`invalid file mode '${mode}': expected octal like 0600`, { code: "invalid-mode" });
  }
  return mode;
}
