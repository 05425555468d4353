import { createHash } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { BackupIntegrityError } from "./crypto-stream.js";
import { ByteQueue } from "./byte-queue.js";
import type { PartSink, PartSource, ReadBundleHandlers } from "./bundle.js";
import type { BackupManifest, BackupPart, BackupStart } from "./manifest.js";

// What is inside the age encryption of a backup: a plain POSIX (ustar) tar stream, so that
// `age -d … | tar -x` opens it without btw:
//
//   backup.json                what is known before the parts (BackupStart)
//   secrets.env                the tenant's secrets (N8N_ENCRYPTION_KEY…) as KEY=value lines:
//                              a restore without btw needs them; the age layer protects them
//   postgres.dump/000000 …     the part cut into pieces, in order: `cat postgres.dump/*`
//   n8n-data.tar/000000 …      (or `tar -xO --wildcards 'postgres.dump/*'`) gives it back whole
//   manifest.json              last: every part's size and sha256, the escrow, the counts
//
// A tar entry's size comes before its bytes, and a dump's size is known only at its end: so a
// part is cut into pieces of at most PIECE bytes, each held in memory while it fills — memory
// stays at one piece whatever the backup's size.

export const PIECE = 8 * 1024 * 1024;
export const START_ENTRY = "backup.json";
export const SECRETS_ENTRY = "secrets.env";
export const MANIFEST_ENTRY = "manifest.json";
const BLOCK = 512;
const MAX_JSON = 1024 * 1024;

export const pieceName = (part: string, i: number) => `${part}/${String(i).padStart(6, "0")}`;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** One ustar header block (names are ours: short, ASCII). */
export function tarHeader(name: string, size: number, mode: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new RangeError(`tar name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write("0", 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

function* entry(name: string, data: Buffer | Buffer[], mode: number, mtime: number): Generator<Buffer> {
  const list = Array.isArray(data) ? data : [data];
  const size = list.reduce((n, b) => n + b.length, 0);
  yield tarHeader(name, size, mode, mtime);
  yield* list; // a piece goes out as the buffers it arrived in: no 8 MiB copy
  const pad = padding(size);
  if (pad.length > 0) yield pad;
}

/** KEY=value lines, sorted; values are single-line by construction (generated secrets). */
export function secretsEnv(secrets: ReadonlyMap<string, string>): Buffer {
  const lines = [...secrets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => {
    if (/[\r\n]/.test(v)) throw new RangeError(`secret ${k} spans lines`);
    return `${k}=${v}\n`;
  });
  return Buffer.from(lines.join(""), "utf8");
}

/** The tar stream as an async generator (use Readable.from): pulled as fast as the consumer reads. */
export async function* writeTarBundle(
  start: BackupStart,
  secrets: Buffer,
  parts: readonly PartSource[],
  finish: (parts: BackupPart[]) => BackupManifest | Promise<BackupManifest>,
  piece = PIECE,
): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.parse(start.createdAt) / 1000) || 0;
  yield* entry(START_ENTRY, Buffer.from(JSON.stringify(start, null, 2) + "\n"), 0o644, mtime);
  yield* entry(SECRETS_ENTRY, secrets, 0o600, mtime);
  const done: BackupPart[] = [];
  for (const part of parts) {
    const hash = createHash("sha256");
    let size = 0;
    let n = 0;
    const q = new ByteQueue();
    const stream = await part.open();
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      q.push(chunk);
      while (q.length >= piece) yield* entry(pieceName(part.name, n++), q.takeList(piece), 0o644, mtime);
    }
    await part.finished?.();
    // an empty part still gets one (empty) piece: `cat part/*` then finds a file
    if (q.length > 0 || n === 0) yield* entry(pieceName(part.name, n++), q.takeList(q.length), 0o644, mtime);
    done.push({ name: part.name, size, sha256: hash.digest("hex") });
  }
  const manifest = await finish(done);
  yield* entry(MANIFEST_ENTRY, Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), 0o644, mtime);
  yield Buffer.alloc(BLOCK * 2);
}

const corrupt = (msg: string) => new BackupIntegrityError(`backup content is inconsistent: ${msg}`);

interface Header {
  name: string;
  size: number;
}

function parseHeader(b: Buffer): Header | null {
  if (b.every((x) => x === 0)) return null;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  const field = (off: number, len: number) => b.subarray(off, off + len).toString("ascii").replace(/\0.*$/s, "").trim();
  if (parseInt(field(148, 8), 8) !== sum) throw corrupt("a tar header's checksum does not match");
  const type = String.fromCharCode(b[156]!);
  if (type !== "0" && type !== "\0") throw corrupt(`unexpected tar entry type ${JSON.stringify(type)}`);
  const size = parseInt(field(124, 12), 8);
  if (!Number.isSafeInteger(size) || size < 0) throw corrupt("a tar header's size is damaged");
  const prefix = field(345, 155);
  const name = b.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  return { name: prefix ? `${prefix}/${name}` : name, size };
}

/**
 * Reads the decrypted tar, routing each part's pieces to its sink with backpressure, and
 * returns the manifest once every part's size and sha256 matched it.
 */
export async function readTarBundle(source: Readable, h: ReadBundleHandlers): Promise<BackupManifest> {
  const q = new ByteQueue();
  let start: BackupStart | null = null;
  let manifest: BackupManifest | null = null;
  let ended = false;
  let entry: (Header & { left: number; json: Buffer[] | null; part: boolean }) | null = null;
  type Current = { name: string; next: number; hash: ReturnType<typeof createHash>; size: number; sink: PartSink | null };
  let current: Current | null = null;
  const parts: BackupPart[] = [];

  const closePart = async () => {
    if (!current) return;
    if (current.sink) {
      current.sink.stream.end();
      await current.sink.done();
    }
    parts.push({ name: current.name, size: current.size, sha256: current.hash.digest("hex") });
    current = null;
  };

  const json = <T>(e: { json: Buffer[] | null; name: string }): T => {
    try {
      return JSON.parse(Buffer.concat(e.json!).toString("utf8")) as T;
    } catch {
      throw corrupt(`${e.name} is not JSON`);
    }
  };

  const begin = async (hd: Header) => {
    if (manifest) throw corrupt(`entry ${hd.name} after the manifest`);
    const slash = hd.name.lastIndexOf("/");
    const isPiece = slash > 0 && /^\d{6}$/.test(hd.name.slice(slash + 1));
    if (!isPiece) await closePart();
    if (hd.name === START_ENTRY || hd.name === MANIFEST_ENTRY) {
      if (hd.size > MAX_JSON) throw corrupt(`${hd.name} too large`);
      if (hd.name === START_ENTRY && start) throw corrupt("two start entries");
      if (hd.name === MANIFEST_ENTRY && !start) throw corrupt("manifest before the start entry");
      return { ...hd, left: hd.size, json: [], part: false };
    }
    if (!start) throw corrupt(`entry ${hd.name} before the start entry`);
    if (isPiece) {
      const partName = hd.name.slice(0, slash);
      const n = Number(hd.name.slice(slash + 1));
      if (current && current.name !== partName) await closePart();
      if (!current) {
        if (n !== 0) throw corrupt(`part ${partName} does not begin with its first piece`);
        if (parts.some((p) => p.name === partName)) throw corrupt(`part ${partName} appears twice`);
        current = { name: partName, next: 0, hash: createHash("sha256"), size: 0, sink: await h.onPart(partName) };
      }
      if (n !== current.next) throw corrupt(`part ${partName}: piece ${n} where ${current.next} was expected`);
      current.next++;
      return { ...hd, left: hd.size, json: null, part: true };
    }
    return { ...hd, left: hd.size, json: null, part: false }; // secrets.env, or what a newer btw adds: skipped
  };

  const finishEntry = async () => {
    const e = entry!;
    entry = null;
    if (e.name === START_ENTRY) {
      start = json<BackupStart>(e);
      await h.onStart?.(start);
    } else if (e.name === MANIFEST_ENTRY) {
      manifest = json<BackupManifest>(e);
      const listed = manifest.parts ?? [];
      if (listed.length !== parts.length || listed.some((p, i) => p.name !== parts[i]!.name || p.size !== parts[i]!.size || p.sha256 !== parts[i]!.sha256)) {
        throw corrupt("the manifest's parts do not match the parts read");
      }
    }
  };

  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      q.push(chunk);
      for (;;) {
        if (ended) {
          q.skip(q.length); // tar pads its end to a record size: zeros only
          break;
        }
        if (!entry) {
          if (q.length < BLOCK) break;
          const hd = parseHeader(q.take(BLOCK));
          if (!hd) {
            ended = true;
            continue;
          }
          entry = await begin(hd);
          continue;
        }
        if (entry.left > 0) {
          if (q.length === 0) break;
          const data = q.take(Math.min(q.length, entry.left));
          entry.left -= data.length;
          if (entry.json) entry.json.push(Buffer.from(data));
          else if (entry.part) {
            const cur = current as Current | null;
            if (!cur) throw corrupt(`piece ${entry.name} outside a part`);
            cur.hash.update(data);
            cur.size += data.length;
            const s = cur.sink?.stream;
            if (s && !s.write(data)) await drainOrFail(s);
          }
          if (entry.left > 0) break;
        }
        const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
        if (q.length < pad) break;
        q.skip(pad);
        await finishEntry();
      }
    }
    if (!manifest) throw corrupt(current ? `ended inside part ${(current as { name: string }).name}` : "no manifest");
    if (!ended) throw corrupt("the tar stream has no end marker");
    return manifest;
  } catch (e) {
    const c = current as { sink: PartSink | null } | null;
    c?.sink?.stream.destroy(e as Error);
    throw e;
  }
}

// A sink that dies (pg_restore exits) must not leave us waiting for 'drain' forever.
function drainOrFail(s: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      s.off("drain", onDrain);
      s.off("close", onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error("the restore target closed its input early"));
    s.on("drain", onDrain);
    s.on("close", onClose);
  });
}
