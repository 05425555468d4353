import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { BackupIntegrityError } from "./crypto-stream.js";
import { ByteQueue } from "./byte-queue.js";
import type { BackupManifest, BackupPart, BackupStart } from "./manifest.js";

// What is inside the encryption: a "bundle" of named parts, streamed one after the other,
// with the manifest last (the parts' sizes and sha256 are only known at their end).
//
//   magic "BTWBNDL1", then records: u8 type | u32 BE length | payload
//     'S' start    JSON BackupStart (tenant, time, images… what is known before the parts)
//     'P' part     JSON {name}
//     'D' data     raw bytes of the current part (≤ 1 MiB per record)
//     'E' end      JSON {name, size, sha256} of the current part
//     'M' manifest JSON BackupManifest — must be the last record
//
// A reader checks every part's size and sha256 against its 'E' record and the manifest, and
// that the manifest came last; the encryption layer already refuses truncation and damage.

export const BUNDLE_MAGIC = Buffer.from("BTWBNDL1", "ascii");
const MAX_RECORD = 1024 * 1024;
const MAX_JSON = 1024 * 1024;

type RecordType = "S" | "P" | "D" | "E" | "M";

function record(type: RecordType, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "ascii");
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

const json = (type: RecordType, v: unknown) => record(type, Buffer.from(JSON.stringify(v), "utf8"));

export interface PartSource {
  name: string;
  /** opened when the bundle reaches this part; the stream must end when the part is complete */
  open: () => Promise<Readable>;
  /** awaited after the stream ended: throws when the producer failed (e.g. pg_dump's exit code) */
  finished?: () => Promise<void>;
}

/**
 * The bundle as an async generator (use Readable.from): parts are opened one at a time and
 * pulled only as fast as the consumer reads, so nothing is buffered beyond one record.
 */
export async function* writeBundle(
  start: BackupStart,
  parts: readonly PartSource[],
  finish: (parts: BackupPart[]) => BackupManifest | Promise<BackupManifest>,
): AsyncGenerator<Buffer> {
  yield BUNDLE_MAGIC;
  yield json("S", start);
  const done: BackupPart[] = [];
  for (const part of parts) {
    yield json("P", { name: part.name });
    const hash = createHash("sha256");
    let size = 0;
    const stream = await part.open();
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += MAX_RECORD) {
        const piece = chunk.subarray(off, off + MAX_RECORD);
        hash.update(piece);
        size += piece.length;
        yield record("D", piece);
      }
    }
    await part.finished?.();
    const p: BackupPart = { name: part.name, size, sha256: hash.digest("hex") };
    done.push(p);
    yield json("E", p);
  }
  yield json("M", await finish(done));
}

export interface PartSink {
  stream: Writable;
  /** resolves once the consumer has processed everything written (e.g. pg_restore exited 0) */
  done: () => Promise<void>;
}

export interface ReadBundleHandlers {
  onStart?: (start: BackupStart) => void | Promise<void>;
  /** where a part's bytes go; null discards them (still hashed and checked) */
  onPart: (name: string) => PartSink | null | Promise<PartSink | null>;
}

const corrupt = (msg: string) => new BackupIntegrityError(`backup content is inconsistent: ${msg}`);

/**
 * Reads a decrypted bundle, routing each part to its sink with backpressure, and returns the
 * manifest once every part's size and sha256 matched.
 */
export async function readBundle(source: Readable, h: ReadBundleHandlers): Promise<BackupManifest> {
  const q = new ByteQueue();
  let magicSeen = false;
  let start: BackupStart | null = null;
  let current: { name: string; hash: ReturnType<typeof createHash>; size: number; sink: PartSink | null } | null = null;
  const parts: BackupPart[] = [];
  let manifest: BackupManifest | null = null;

  const parseJson = <T>(b: Buffer, what: string): T => {
    if (b.length > MAX_JSON) throw corrupt(`${what} record too large`);
    try {
      return JSON.parse(b.toString("utf8")) as T;
    } catch {
      throw corrupt(`${what} record is not JSON`);
    }
  };

  const handle = async (type: string, payload: Buffer) => {
    if (manifest) throw corrupt("records after the manifest");
    if (type === "S") {
      if (start) throw corrupt("two start records");
      start = parseJson<BackupStart>(payload, "start");
      await h.onStart?.(start);
    } else if (type === "P") {
      if (!start) throw corrupt("part before the start record");
      if (current) throw corrupt(`part started inside part ${current.name}`);
      const { name } = parseJson<{ name: string }>(payload, "part");
      current = { name, hash: createHash("sha256"), size: 0, sink: await h.onPart(name) };
    } else if (type === "D") {
      if (!current) throw corrupt("data outside a part");
      current.hash.update(payload);
      current.size += payload.length;
      const s = current.sink?.stream;
      if (s && !s.write(payload)) await drainOrFail(s);
    } else if (type === "E") {
      if (!current) throw corrupt("part end outside a part");
      const end = parseJson<BackupPart>(payload, "part end");
      const sha256 = current.hash.digest("hex");
      if (end.name !== current.name || end.size !== current.size || end.sha256 !== sha256) {
        throw corrupt(`part ${current.name}: size/sha256 do not match its end record`);
      }
      if (current.sink) {
        current.sink.stream.end();
        await current.sink.done();
      }
      parts.push({ name: current.name, size: current.size, sha256 });
      current = null;
    } else if (type === "M") {
      if (current) throw corrupt(`manifest inside part ${current.name}`);
      manifest = parseJson<BackupManifest>(payload, "manifest");
      const listed = manifest.parts ?? [];
      if (listed.length !== parts.length || listed.some((p, i) => p.name !== parts[i]!.name || p.size !== parts[i]!.size || p.sha256 !== parts[i]!.sha256)) {
        throw corrupt("the manifest's parts do not match the parts read");
      }
    } else {
      throw corrupt(`unknown record type ${JSON.stringify(type)}`);
    }
  };

  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      q.push(chunk);
      if (!magicSeen) {
        if (q.length < BUNDLE_MAGIC.length) continue;
        if (!q.take(BUNDLE_MAGIC.length).equals(BUNDLE_MAGIC)) throw corrupt("not a btw bundle");
        magicSeen = true;
      }
      while (q.length >= 5) {
        const head = q.peek(5);
        const len = head.readUInt32BE(1);
        if (len > Math.max(MAX_RECORD, MAX_JSON)) throw corrupt("record too large");
        if (q.length < 5 + len) break;
        const rec = q.take(5 + len);
        await handle(String.fromCharCode(rec[0]!), rec.subarray(5));
      }
    }
    if (!manifest) throw corrupt(current ? `ended inside part ${(current as { name: string }).name}` : "no manifest");
    if (q.length > 0) throw corrupt("trailing bytes after the manifest");
    return manifest;
  } catch (e) {
    const c = current as { sink: PartSink | null } | null;
    c?.sink?.stream.destroy(e as Error);
    throw e;
  }
}

async function drainOrFail(s: Writable): Promise<void> {
  // A sink that dies (pg_restore exits) must not leave us waiting for 'drain' forever.
  await Promise.race([once(s, "drain"), once(s, "close").then(() => Promise.reject(new Error("the restore target closed its input early")))]);
}
