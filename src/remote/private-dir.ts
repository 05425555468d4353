// Directories that hold ControlMaster sockets and known_hosts must be ours alone: anyone who
// can write there can hijack the master connection or swap pinned keys.

import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { OperationError } from "../errors.js";

/**
 * mkdir -p with 0700, then check `dir` is ours and private, and that no ancestor can be
 * renamed under us by another user (owned by us or root; world-writable only if sticky,
 * like /tmp).
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid) throw insecure(dir, "is not a directory owned by you");
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  for (let p = dirname(dir); ; p = dirname(p)) {
    const a = lstatSync(p);
    const sticky = (a.mode & 0o1000) !== 0;
    if ((a.uid !== uid && a.uid !== 0) || ((a.mode & 0o002) !== 0 && !sticky && !a.isSymbolicLink())) {
      throw insecure(p, "can be changed by other users");
    }
    if (p === "/" || p === ".") break;
  }
}

function insecure(path: string, why: string): OperationError {
  return new OperationError(`refusing to use ${path} for SSH state: it ${why}`, {
    code: "ssh-insecure-dir",
    hint: `remove or fix ${path} (it must belong to you, mode 0700), or choose another directory`,
  });
}
