import { PassThrough, type Readable } from "node:stream";
import tarStream from "tar-stream";

// A tar stream with some entries left out, everything else passed through as it came
// (names, modes, owners, times, links; tar-stream writes the PAX headers long names need).
// tar-stream, not our own parser: Docker's archives carry PAX headers, which belong to the
// entry after them and must go with it.

/**
 * n8n's crash marker, `~/.n8n/crash.journal`: n8n writes it at start and removes it on a clean
 * shutdown, and when it finds one at start it sleeps 10 s ("Last session crashed") to slow a
 * crash loop. A backup archived while n8n runs holds it, so every stack started from a backup
 * (restore, migrate, verify, an upgrade's rollback) waited those 10 s. It is no data.
 */
export const N8N_CRASH_MARKER = ".n8n/crash.journal";

export function isN8nCrashMarker(name: string): boolean {
  return name.replace(/^(\.\/)+/, "") === N8N_CRASH_MARKER;
}

/**
 * Where an entry of n8n's data archive goes when it is put into the data directory itself
 * (`/home/node/.n8n`, the volume) rather than its parent: `.n8n/x` becomes `x`, `.n8n/` the
 * directory itself, and n8n's crash marker is left out (null). A tenant's n8n container has a
 * read-only root filesystem (issue 24) and Docker refuses an archive put into `/home/node`, which
 * is not a volume; a backup's archive is taken of `/home/node/.n8n` and so named from `.n8n`.
 * Any other name cannot come from a btw backup: it is refused, never written elsewhere.
 */
export function n8nDataEntry(name: string): string | null {
  if (isN8nCrashMarker(name)) return null;
  const n = name.replace(/^(\.\/)+/, "");
  if (n === ".n8n" || n === ".n8n/") return "./";
  if (n.startsWith(".n8n/")) return n.slice(".n8n/".length);
  throw new Error(`the backup's n8n data holds '${name}', outside .n8n/: not a btw archive of n8n's data`);
}

/** `input` without the entries `drop` names; input's errors reach the output. */
export function tarWithout(input: Readable, drop: (name: string) => boolean): Readable {
  return tarRewrite(input, (name) => (drop(name) ? null : name));
}

/**
 * `input` with each entry renamed by `rename` (null leaves it out; a throw fails the stream).
 * A hard link's target is an entry of the same archive and is renamed with it; a symbolic
 * link's target is a path on the filesystem and stays as it was. input's errors reach the output.
 */
export function tarRewrite(input: Readable, rename: (name: string) => string | null): Readable {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const fail = (e: Error) => {
    out.destroy(e);
    extract.destroy(e);
    input.destroy(e);
  };
  extract.on("entry", (header, body, next) => {
    let name: string | null;
    let linkname = header.linkname;
    try {
      name = rename(header.name);
      if (name !== null && header.type === "link" && linkname) linkname = rename(linkname) ?? linkname;
    } catch (e) {
      fail(e as Error);
      return;
    }
    if (name === null) {
      body.on("end", () => next());
      body.resume();
      return;
    }
    // a PAX header's path and linkpath would override the new names: pack writes its own for
    // names too long for ustar; the rest (times, owners' names, attributes) goes on as it came
    // (tar-stream has `pax` on its headers; its types leave it out)
    const { path: _path, linkpath: _linkpath, ...pax } = (header as { pax?: Record<string, string> }).pax ?? {};
    const renamed = { ...header, name, linkname, pax: Object.keys(pax).length > 0 ? pax : undefined } as tarStream.Headers;
    const entry = pack.entry(renamed, (e) => (e ? fail(e) : next()));
    body.on("error", fail);
    body.pipe(entry);
  });
  extract.on("finish", () => pack.finalize());
  extract.on("error", fail);
  input.on("error", fail);
  pack.on("error", fail);
  out.once("close", () => input.destroy());
  input.pipe(extract);
  pack.pipe(out);
  return out;
}
