import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

// Key files (master.key, the keyring, the recovery identity) are put into place whole: the
// content goes to a temp file beside the target (same directory, same file system), is
// fsynced and given its mode, then hard-linked (a new file: refused when one exists) or
// renamed (a replacement) onto the target, and the directory is fsynced. A full disk or a
// kill at any point leaves the target as it was, never empty or half-written: a zero-byte
// keyring file used to break every command (issue 22). A kill leaves the temp file
// (`.<name>.tmp-<pid>-<random>`), which no reader looks at.

/** Creates `path` with `content` unless it exists; returns false when it does. */
export function createFileAside(path: string, content: string, mode: number): boolean {
  const tmp = writeTemp(path, content, mode);
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
  fsyncDir(dirname(path));
  return true;
}

/** Replaces (or creates) `path` with `content`. */
export function replaceFileAside(path: string, content: string, mode: number): void {
  const tmp = writeTemp(path, content, mode);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
  fsyncDir(dirname(path));
}

function writeTemp(path: string, content: string, mode: number): string {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  let fd: number | null = openSync(tmp, "wx", mode);
  try {
    const bytes = Buffer.from(content);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    chmodSync(tmp, mode); // openSync's mode went through the umask
    return tmp;
  } catch (e) {
    if (fd !== null) closeSync(fd);
    unlinkQuietly(tmp);
    throw e;
  }
}

/** Makes the new name durable; some file systems refuse to fsync a directory, which is no error here. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } catch (e) {
    if (!["EINVAL", "EISDIR", "EBADF"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
  } finally {
    closeSync(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already: what matters is the target, which was not touched
  }
}
