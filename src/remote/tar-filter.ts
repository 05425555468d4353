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

/** `input` without the entries `drop` names; input's errors reach the output. */
export function tarWithout(input: Readable, drop: (name: string) => boolean): Readable {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const fail = (e: Error) => {
    out.destroy(e);
    extract.destroy(e);
    input.destroy(e);
  };
  extract.on("entry", (header, body, next) => {
    if (drop(header.name)) {
      body.on("end", () => next());
      body.resume();
      return;
    }
    const entry = pack.entry(header, (e) => (e ? fail(e) : next()));
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
