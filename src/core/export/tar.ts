// A minimal POSIX ustar writer and reader for the customer's export archive: regular files
// only, names up to 100 bytes (the export's own paths are short and fixed), mode 0644, one
// fixed mtime. Gzip is the caller's (node:zlib). Pure: buffers in, buffer out.

export interface TarEntry {
  name: string;
  data: Buffer;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  // width includes the terminating NUL
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, size: number, mtime: number): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  if (nameBytes.length === 0 || nameBytes.length > 100) throw new RangeError(`tar: entry name must be 1–100 bytes: ${name}`);
  if (name.startsWith("/") || name.split("/").includes("..")) throw new RangeError(`tar: entry name must be relative: ${name}`);
  const h = Buffer.alloc(BLOCK, 0);
  nameBytes.copy(h, 0);
  h.write(octal(0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii"); // uid
  h.write(octal(0, 8), 116, "ascii"); // gid
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii"); // checksum placeholder: spaces while summing
  h.write("0", 156, "ascii"); // regular file
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

/** The tar bytes of these entries, in order, ending with the two zero blocks. */
export function tarPack(entries: readonly TarEntry[], mtime: Date): Buffer {
  const seconds = Math.floor(mtime.getTime() / 1000);
  const names = new Set<string>();
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (names.has(e.name)) throw new RangeError(`tar: duplicate entry ${e.name}`);
    names.add(e.name);
    parts.push(header(e.name, e.data.length, seconds), e.data);
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

/** Reads back what tarPack wrote (and plain ustar regular files generally); checks checksums. */
export function tarUnpack(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const field = (start: number, len: number) => h.subarray(start, start + len).toString("ascii").replace(/\0.*$/s, "").trim();
    const name = h.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12), 8);
    const stored = parseInt(field(148, 8), 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (!Number.isFinite(size) || sum !== stored) throw new Error(`tar: bad header at offset ${off}`);
    off += BLOCK;
    if (off + size > tar.length) throw new Error(`tar: ${name} is truncated`);
    out.push({ name, data: Buffer.from(tar.subarray(off, off + size)) });
    off += Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
