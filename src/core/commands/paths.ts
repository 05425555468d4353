// Guards for remote paths handed to builders. A path is a value (passed as its own argv
// word), but a wrong value can still be destructive, so builders check shape first.

import { UsageError } from "../../errors.js";

function unsafe(why: string): UsageError {
  return new UsageError(`unsafe remote path: ${why}`, { code: "unsafe-remote-path" });
}

/** An absolute POSIX path with no NUL, no empty or `.`/`..` segments. Returns it unchanged. */
export function requireAbsolutePath(path: string): string {
  if (path === "") throw unsafe("empty path");
  if (path.includes("\0")) throw unsafe("contains a NUL byte");
  if (!path.startsWith("/")) throw unsafe(`'${path}' is not absolute`);
  const segments = path.split("/").slice(1);
  if (path !== "/" && segments.some((s, i) => s === "." || s === ".." || (s === "" && i < segments.length - 1))) {
    throw unsafe(`'${path}' has empty, '.' or '..' segments`);
  }
  return path;
}

/** Like requireAbsolutePath, and at least two levels deep: never `/`, never `/opt`. */
export function requireDeepPath(path: string): string {
  requireAbsolutePath(path);
  const depth = path.split("/").filter((s) => s !== "").length;
  if (depth < 2) throw unsafe(`refusing '${path}': fewer than two levels below /`);
  return path;
}
