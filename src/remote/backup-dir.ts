import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { NotFoundError, OperationError } from "../errors.js";
import type { BackupStorage } from "./backup-storage.js";

// A directory (local disk, NFS, a mounted volume). A put streams into `<key>.partial`, fsyncs
// it, renames it into place and fsyncs the directory: a crash leaves either nothing or a
// `.partial` (removed by removePartial), never a half-written backup under the real name.

export const PARTIAL_SUFFIX = ".partial";

export function expandPath(path: string, env: NodeJS.ProcessEnv, home: string): string {
  const p = path.replace(/^\$BTW_HOME(?=\/|$)/, home).replace(/^~(?=\/|$)/, env.HOME ?? homedir());
  return resolve(p);
}

export class DirStorage implements BackupStorage {
  readonly kind = "dir" as const;

  constructor(readonly root: string) {}

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (!p.startsWith(this.root + sep)) throw new OperationError(`backup key escapes the storage root: ${key}`, { code: "invalid-backup-key" });
    return p;
  }

  location(key: string): string {
    return this.path(key);
  }

  keyOf(location: string): string | null {
    const rel = relative(this.root, location);
    return rel && !rel.startsWith("..") && !rel.startsWith(sep) ? rel.split(sep).join("/") : null;
  }

  async put(key: string, body: Readable, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const final = this.path(key);
    const tmp = final + PARTIAL_SUFFIX;
    await mkdir(dirname(final), { recursive: true, mode: 0o700 });
    const fh = await open(tmp, "w", 0o600);
    try {
      // A plain loop: each write is awaited (backpressure), and the abort is checked between.
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
        await fh.write(chunk);
      }
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
      await fh.sync();
      await fh.close();
    } catch (e) {
      body.destroy();
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
    await rename(tmp, final);
    const dir = await open(dirname(final), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async get(key: string): Promise<Readable> {
    const p = this.path(key);
    try {
      await stat(p);
    } catch {
      throw new NotFoundError("backup file", p, { hint: "it was pruned or moved; `btw backup list` shows what exists" });
    }
    return createReadStream(p, { highWaterMark: 1024 * 1024 });
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async removePartial(key: string): Promise<void> {
    await rm(this.path(key) + PARTIAL_SUFFIX, { force: true });
  }

  async list(prefix = ""): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!e.name.endsWith(PARTIAL_SUFFIX)) out.push(relative(this.root, p).split(sep).join("/"));
      }
    };
    await walk(this.root);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }

  async listPartials(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith(PARTIAL_SUFFIX)) out.push(relative(this.root, p));
      }
    };
    await walk(this.root);
    return out;
  }

  async close(): Promise<void> {}
}
