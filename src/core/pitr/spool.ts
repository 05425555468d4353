// The WAL puller's pure parts (docs/design/pitr.md §1.3, §1.4): the one command that lists
// every PITR tenant's spool on a server, what a cycle ships from that listing, which spool
// files may go, and the page arithmetic of open segments (zero trim, chunk layout).
//
// Offsets of the open segment. pg_receivewal pre-pads `<seg>.partial` with zeros to the
// segment size and writes WAL into it as it arrives, so the file's size says nothing: the
// written part ends at the last non-zero byte (every WAL page starts with a non-zero header,
// so a page of zeros is unwritten). The last written page may be incomplete, and PG sends
// its rest later into the same page; bytes once written never change. So the shipped offset
// of an open segment is the end of its last non-zero byte (walDataEnd), and the next read
// starts at that byte's page (pageFloor): a page whose last byte is written is complete and
// never read again; any other page is read again until it is.

import { UsageError } from "../../errors.js";
import { requireTenantSlug } from "../tenant/layout.js";
import { compareSegments, parseWalName, walObjectName, type WalName } from "./wal-names.js";

/** XLOG_BLCKSZ of every stock PG build */
export const WAL_PAGE_SIZE = 8192;
/** what the fetch reads of an open segment at a time; it stops at the first all-zero block */
export const WAL_BLOCK_SIZE = 65536;

// ---- listing ------------------------------------------------------------------------------

export interface SpoolFile {
  name: string;
  size: number;
  /** seconds since the epoch, with GNU find's fraction */
  mtime: number;
}

export interface SpoolListing {
  /**
   * `ok`: the listing is whole; `missing`: no spool directory (PITR not set up on the
   * server yet, or removed); `error`: find failed or the output was cut — plan nothing from
   * it, a partial listing would read as a spool gap.
   */
  state: "ok" | "missing" | "error";
  files: SpoolFile[];
  /** the last line of the receiver's `status` file (`start <ts>`, `exit <ts> <code>`, …), null when absent or empty */
  status: string | null;
}

/**
 * Lists spools: arguments are pairs `<tenant> <spool dir>`. Per tenant: a header
 * `\036spool <tenant>`, a line `f <name> <size> <mtime>` per regular file (GNU find: Debian
 * servers), `status <last line>` of the `status` file beside the spool (§1.2: the receiver's
 * /wal holds spool/ and status), and `\036end <find's exit code | missing>` — the end marker
 * tells a whole listing from one cut by a dropped connection. Always exits 0: one tenant's
 * unreadable spool must not hide the others'.
 */
export const SPOOL_LIST_SCRIPT = [
  'while [ "$#" -ge 2 ]; do',
  '  t=$1 d=$2',
  "  shift 2",
  "  printf '\\036spool %s\\n' \"$t\"",
  '  if [ -d "$d" ]; then',
  "    find \"$d\" -maxdepth 1 -type f -printf 'f %f %s %T@\\n' && rc=0 || rc=$?",
  "  else rc=missing; fi",
  '  s=$(tail -n 1 "${d%/*}/status" 2>/dev/null) || s=',
  "  [ -z \"$s\" ] || printf 'status %s\\n' \"$s\"",
  "  printf '\\036end %s\\n' \"$rc\"",
  "done",
  "exit 0",
].join("\n");

/** Absolute, no `.`/`..` segment, no trailing slash (the script takes the status file from the parent). */
const SPOOL_DIR = /^(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._-]+)+$/;

export function spoolList(dirs: ReadonlyArray<{ tenant: string; dir: string }>): string[] {
  const seen = new Set<string>();
  const args: string[] = [];
  for (const { tenant, dir } of dirs) {
    requireTenantSlug(tenant);
    if (seen.has(tenant)) throw new UsageError(`tenant ${tenant} listed twice`, { code: "invalid-argument" });
    seen.add(tenant);
    if (!SPOOL_DIR.test(dir)) throw new UsageError(`not a spool directory: ${JSON.stringify(dir)}`, { code: "invalid-path" });
    args.push(tenant, dir);
  }
  return ["sh", "-c", SPOOL_LIST_SCRIPT, "sh", ...args];
}

/** spoolList's output → tenant → listing. A tenant absent from the map was not in the output at all. */
export function parseSpoolList(stdout: string): Map<string, SpoolListing> {
  const out = new Map<string, SpoolListing>();
  let current: SpoolListing | null = null;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("\x1espool ")) {
      current = { state: "error", files: [], status: null };
      out.set(line.slice("\x1espool ".length), current);
    } else if (current === null) {
      continue;
    } else if (line.startsWith("\x1eend ")) {
      const rc = line.slice("\x1eend ".length);
      current.state = rc === "0" ? "ok" : rc === "missing" ? "missing" : "error";
      current = null;
    } else if (line.startsWith("status ")) {
      current.status = line.slice("status ".length) || null;
    } else {
      // a name with a space or newline is nothing pg_receivewal writes: skipped here
      const m = /^f (\S+) (\d+) (\d+(?:\.\d+)?)$/.exec(line);
      if (m) current.files.push({ name: m[1]!, size: Number(m[2]), mtime: Number(m[3]) });
    }
  }
  return out;
}

// ---- planning -----------------------------------------------------------------------------

export type ShipAction =
  | { kind: "history"; name: string; timeline: number }
  | { kind: "segment"; name: string; timeline: number; segno: number }
  /**
   * Bytes of the open segment: read `name` (the spool's `<seg>.partial`) from `from`
   * (page-aligned) in `blockSize` blocks up to `to` (its size, i.e. the segment size: the file
   * is pre-padded), stopping at the first all-zero block; store as chunk `<segment>@from`.
   */
  | { kind: "partial-range"; name: string; segment: string; timeline: number; segno: number; from: number; to: number; blockSize: number };

export interface ShipPlanInput {
  files: readonly SpoolFile[];
  shipped: {
    /**
     * the newest complete segment stored, the end of a run with nothing missing before it
     * (a puller that stored 5 and 7 but not 6 records 5)
     */
    segment: string | null;
    /** the open segment's name (`<seg>` or `<seg>.partial`) and its shipped offset (walDataEnd of what is stored) */
    partial: { name: string; offset: number } | null;
  };
  /** history file names already stored (`00000002.history`) */
  storedHistory?: ReadonlySet<string> | readonly string[];
  segSize: number;
  blockSize?: number;
  pageSize?: number;
}

export interface ShipPlan {
  /** history files first (a timeline's segments are of no use to a restore without it), then segments in stream order, then the open segment */
  actions: ShipAction[];
  /**
   * The stream has a hole: the first thing to ship does not follow what is stored (its
   * segment number is neither the stored one's nor the next), or two shipped in a row do
   * not. WAL was lost — a wiped spool, a receiver restarted past a lost slot —: the design
   * starts a new archive (§3); this only reports it.
   */
  gap: boolean;
  /**
   * Segments shipped whole by this plan whose chunks the archive holds (the shipped open
   * segment completed): once the complete object is stored, its chunks may go (§1.4).
   */
  completes: string[];
  /** a complete segment that cannot be shipped (wrong size: not this cluster's segment size); nothing after it is planned */
  blocked: { name: string; reason: string } | null;
}

export function planShipment(input: ShipPlanInput): ShipPlan {
  const { segSize } = input;
  const pageSize = input.pageSize ?? WAL_PAGE_SIZE;
  const blockSize = input.blockSize ?? WAL_BLOCK_SIZE;
  if (!Number.isInteger(pageSize) || pageSize <= 0 || segSize % pageSize !== 0) throw new RangeError(`invalid WAL page size ${pageSize}`);
  if (!Number.isInteger(blockSize) || blockSize <= 0 || blockSize % pageSize !== 0) throw new RangeError(`block size ${blockSize} is not a multiple of the page size ${pageSize}`);

  const names = input.files.map((f) => ({ file: f, wal: parseWalName(f.name, segSize) }));
  const segments = names.filter((n): n is { file: SpoolFile; wal: WalName & { kind: "segment" } } => n.wal?.kind === "segment").sort((a, b) => compareSegments(a.wal, b.wal));
  const partials = names.filter((n): n is { file: SpoolFile; wal: WalName & { kind: "partial" } } => n.wal?.kind === "partial").sort((a, b) => compareSegments(a.wal, b.wal));
  const histories = names.filter((n): n is { file: SpoolFile; wal: WalName & { kind: "history" } } => n.wal?.kind === "history").sort((a, b) => a.wal.timeline - b.wal.timeline);

  const last = input.shipped.segment === null ? null : requireParsed(input.shipped.segment, "segment", segSize);
  const shippedPartial = input.shipped.partial === null ? null : requireParsed(stripPartial(input.shipped.partial.name), "segment", segSize);
  const isNew = (w: { segno: number; timeline: number }) => last === null || compareSegments(w, last) > 0;

  const stored = new Set(input.storedHistory ?? []);
  const actions: ShipAction[] = histories.filter((h) => !stored.has(h.wal.name)).map((h) => ({ kind: "history", name: h.wal.name, timeline: h.wal.timeline }));

  // The stream continues after the last complete segment stored; with none stored yet, at the
  // shipped open segment (its chunks are in the archive, so the spool must still hold it).
  const pending = shippedPartial !== null && isNew(shippedPartial) ? shippedPartial : null;
  let prev: number | null = last !== null ? last.segno : pending !== null ? pending.segno - 1 : null;
  let gap = false;
  const follows = (segno: number) => {
    // the same number is a timeline switch: the new timeline restarts in the switch point's segment
    if (prev !== null && segno !== prev && segno !== prev + 1) gap = true;
    prev = segno;
  };

  const completes: string[] = [];
  let blocked: ShipPlan["blocked"] = null;
  for (const s of segments) {
    if (!isNew(s.wal)) continue;
    if (s.file.size !== segSize) {
      blocked = { name: s.wal.name, reason: `${s.file.size} bytes, not the segment size ${segSize}` };
      break;
    }
    follows(s.wal.segno);
    actions.push({ kind: "segment", name: s.wal.name, timeline: s.wal.timeline, segno: s.wal.segno });
    if (pending !== null && s.wal.name === pending.name) completes.push(s.wal.name);
  }

  // The open segment is the newest .partial, if it is newer than every complete one; older
  // partials are what a timeline switch leaves of the old timeline's last segment.
  const open = partials.at(-1);
  const newestComplete = segments.at(-1);
  if (blocked === null && open !== undefined && isNew(open.wal) && (newestComplete === undefined || compareSegments(open.wal, newestComplete.wal) > 0)) {
    const from = shippedPartial !== null && shippedPartial.name === open.wal.segment ? pageFloor(input.shipped.partial!.offset, pageSize) : 0;
    const to = open.file.size;
    follows(open.wal.segno);
    if (from < to) actions.push({ kind: "partial-range", name: open.wal.name, segment: open.wal.segment, timeline: open.wal.timeline, segno: open.wal.segno, from, to, blockSize });
  }
  return { actions, gap, completes, blocked };
}

/**
 * Complete segments the spool may drop: those stored, except the newest complete one, which
 * stays so that a restarted pg_receivewal finds where to resume from its directory alone
 * (§1.3 step 3). History files and partials are never dropped here.
 */
export function deletable(files: readonly SpoolFile[], storedSegments: ReadonlySet<string> | readonly string[]): string[] {
  const stored = new Set(storedSegments);
  // stream order without the segment size: LOG+SEG read as one 16-digit hex number grows with
  // the segment number whatever the size, so the names compare by their last 16 characters
  const segments = files
    .map((f) => f.name)
    .filter((n) => /^[0-9A-F]{24}$/.test(n))
    .sort((a, b) => cmp(a.slice(8), b.slice(8)) || cmp(a.slice(0, 8), b.slice(0, 8)));
  return segments.slice(0, -1).filter((n) => stored.has(n));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function stripPartial(name: string): string {
  return name.endsWith(".partial") ? name.slice(0, -".partial".length) : name;
}

function requireParsed(name: string, kind: "segment", segSize: number): WalName & { kind: "segment" } {
  const w = parseWalName(name, segSize);
  if (w?.kind !== kind) throw new RangeError(`not a WAL segment name at segment size ${segSize}: ${JSON.stringify(name)}`);
  return w;
}

// ---- page arithmetic ----------------------------------------------------------------------

/** The start of the page holding byte `offset`. */
export function pageFloor(offset: number, pageSize: number = WAL_PAGE_SIZE): number {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
  return offset - (offset % pageSize);
}

/**
 * The length of `buf` without its trailing all-zero pages: the end of the last page holding a
 * non-zero byte (0 when none does). A tail shorter than a page counts as a page, so a read
 * cut mid-page keeps its written part and drops a zero one. What a chunk stores.
 */
export function trimZeroPages(buf: Uint8Array, pageSize: number = WAL_PAGE_SIZE): number {
  const end = walDataEnd(buf);
  return end === 0 ? 0 : Math.min(buf.length, Math.ceil(end / pageSize) * pageSize);
}

/**
 * The end of the last non-zero byte of `buf` (0 when all zero). For a read from a page-aligned
 * `from`, `from + walDataEnd(buf)` is the shipped offset to record (see the top of this file);
 * when it is 0 nothing was written since, and the recorded offset stays.
 */
export function walDataEnd(buf: Uint8Array): number {
  let i = buf.length;
  while (i > 0 && buf[i - 1] === 0) i--;
  return i;
}

/** A chunk's object name inside its archive: `wal/<seg>.partial/<offset 8 hex>.gz.age` (objectKeyFor for the whole key). */
export function chunkKeyFor(segmentName: string, fromOffset: number, pageSize: number = WAL_PAGE_SIZE): string {
  if (fromOffset % pageSize !== 0) throw new RangeError(`chunk offset ${fromOffset} is not page-aligned`);
  return walObjectName({ kind: "chunk", segment: stripPartial(segmentName), offset: fromOffset });
}

/**
 * An open segment rebuilt from its chunks, as a restore stages it (§1.4): `segSize` bytes,
 * chunks laid out at their offsets in ascending order — a later start holds newer bytes of the
 * page it starts in; of two with the same start, the later in `chunks` wins — and zeros
 * after the last. Zero-padded to full size because in standby mode PG treats a short file as
 * missing, and a zero page as the end of WAL.
 */
export function assemblePartial(chunks: ReadonlyArray<{ offset: number; data: Uint8Array }>, segSize: number): Buffer {
  const out = Buffer.alloc(segSize);
  const ordered = chunks.map((c, i) => ({ ...c, i })).sort((a, b) => a.offset - b.offset || a.i - b.i);
  for (const c of ordered) {
    if (!Number.isInteger(c.offset) || c.offset < 0 || c.offset + c.data.length > segSize) {
      throw new RangeError(`chunk at ${c.offset} (${c.data.length} bytes) lies outside a ${segSize}-byte segment`);
    }
    out.set(c.data, c.offset);
  }
  return out;
}

// ---- lag ----------------------------------------------------------------------------------

/**
 * Seconds since `shippedAt`, null when the archive never shipped. `shippedAt` is when the
 * archive last held everything the spool held (the puller moves it on every cycle that
 * leaves nothing behind, new bytes or not), so this is the archive's lag, not the age of the
 * last write. Never negative (clocks of two cron hosts may disagree by a little).
 */
export function archiveLag(shippedAt: Date | null, now: Date): number | null {
  if (shippedAt === null) return null;
  return Math.max(0, (now.getTime() - shippedAt.getTime()) / 1000);
}
