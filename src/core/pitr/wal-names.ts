// WAL file names as pg_receivewal writes them into a spool, and the names of the objects
// they become in storage (docs/design/pitr.md §3). Pure: no I/O.
//
// A segment's name is `<TLI><LOG><SEG>`, three 8-digit uppercase hex numbers, where
// LOG/SEG split the segment number by segments per 4 GiB "xlogid" — PG's XLogFileName.
// The split depends on the cluster's segment size (fixed at initdb), so every parse and
// format takes it: `000000010000000100000000` is segment 256 at 16 MiB but names nothing
// at 1 GiB (4 segments per xlogid). Segment numbers stay below 2^44 for every valid size
// (2^32 xlogids × 4096 at 1 MiB), so a JS number holds them exactly.

import { requireTenantSlug } from "../tenant/layout.js";

export type WalName =
  /** a complete segment (pg_receivewal renames the `.partial` once it is full) */
  | { kind: "segment"; name: string; timeline: number; segno: number }
  /** the open segment, pre-padded with zeros to the segment size; `segment` is its final name */
  | { kind: "partial"; name: string; segment: string; timeline: number; segno: number }
  /** a timeline's history file (written whole: pg_receivewal renames it from `.tmp`) */
  | { kind: "history"; name: string; timeline: number };

const MIN_SEG_SIZE = 1 << 20;
const MAX_SEG_SIZE = 1 << 30;
const XLOGID = 0x1_0000_0000;

/** PG's IsValidWalSegSize: a power of two from 1 MiB to 1 GiB. */
export function isValidSegSize(segSize: number): boolean {
  return Number.isInteger(segSize) && segSize >= MIN_SEG_SIZE && segSize <= MAX_SEG_SIZE && (segSize & (segSize - 1)) === 0;
}

function segsPerXlogId(segSize: number): number {
  if (!isValidSegSize(segSize)) throw new RangeError(`invalid WAL segment size ${segSize} (a power of two from 1 MiB to 1 GiB)`);
  return XLOGID / segSize;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");

function requireTimeline(timeline: number): void {
  // timeline 0 does not exist: initdb starts at 1
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffff_ffff) throw new RangeError(`invalid timeline ${timeline}`);
}

/** The 24-hex name of segment `segno` on `timeline` (PG's XLogFileName). */
export function walSegmentName(timeline: number, segno: number, segSize: number): string {
  const per = segsPerXlogId(segSize);
  requireTimeline(timeline);
  if (!Number.isSafeInteger(segno) || segno < 0 || segno >= XLOGID * per) throw new RangeError(`invalid segment number ${segno}`);
  return `${hex8(timeline)}${hex8(Math.floor(segno / per))}${hex8(segno % per)}`;
}

/** `<TLI>.history` */
export function walHistoryName(timeline: number): string {
  requireTimeline(timeline);
  return `${hex8(timeline)}.history`;
}

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const HISTORY = /^([0-9A-F]{8})\.history$/;

/**
 * What a spool file is, or null for anything pg_receivewal leaves that is not WAL to ship:
 * `.tmp` files being written, compressed variants (the receiver runs without --compress),
 * lowercase look-alikes, and names whose SEG part does not exist at this segment size.
 */
export function parseWalName(name: string, segSize: number): WalName | null {
  const per = segsPerXlogId(segSize);
  const history = HISTORY.exec(name);
  if (history) {
    const timeline = parseInt(history[1]!, 16);
    return timeline >= 1 ? { kind: "history", name, timeline } : null;
  }
  const partial = name.endsWith(".partial");
  const segment = partial ? name.slice(0, -".partial".length) : name;
  const m = SEGMENT.exec(segment);
  if (!m) return null;
  const timeline = parseInt(m[1]!, 16);
  const log = parseInt(m[2]!, 16);
  const seg = parseInt(m[3]!, 16);
  if (timeline < 1 || seg >= per) return null;
  const segno = log * per + seg;
  return partial ? { kind: "partial", name, segment, timeline, segno } : { kind: "segment", name, timeline, segno };
}

/**
 * Order of segments in the stream: by segment number, then timeline. A timeline switch
 * starts the new timeline in the segment that holds the switch point, so the old
 * timeline's (partial) copy of that segment comes before the new one's.
 */
export function compareSegments(a: { segno: number; timeline: number }, b: { segno: number; timeline: number }): number {
  return a.segno - b.segno || a.timeline - b.timeline;
}

// ---- storage objects (§3) ----------------------------------------------------------------

/** What one WAL object in an archive holds. */
export type WalObject =
  | { kind: "segment"; segment: string }
  /** bytes of the open segment from `offset` (page-aligned), §1.4 */
  | { kind: "chunk"; segment: string; offset: number }
  | { kind: "history"; timeline: number };

/** `<slug>-<sysid>-<stamp>-<rand>`, e.g. acme-7301234567890123456-20260101T020000Z-3f2a */
const ARCHIVE_ID = /^[a-z0-9][a-z0-9-]*-\d{1,20}-\d{8}T\d{6}Z-[0-9a-f]{4,16}$/;

/**
 * An archive's id. Not the sysid alone: tenants cloned from one prepared database share a
 * sysid, and a purged name comes back (§3).
 */
export function pitrArchiveId(slug: string, sysid: string, at: Date, random: string): string {
  requireTenantSlug(slug);
  if (!/^\d{1,20}$/.test(sysid)) throw new RangeError(`invalid system identifier ${JSON.stringify(sysid)}`);
  if (!/^[0-9a-f]{4,16}$/.test(random)) throw new RangeError("pitrArchiveId: random part must be hex");
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
  return `${slug}-${sysid}-${stamp}-${random}`;
}

export function isPitrArchiveId(id: string): boolean {
  return ARCHIVE_ID.test(id);
}

/** `<slug>/pitr/<archive id>/`: every object of one archive starts with it (a storage listing prefix). */
export function pitrArchivePrefix(slug: string, archiveId: string): string {
  requireTenantSlug(slug);
  if (!ARCHIVE_ID.test(archiveId)) throw new RangeError(`invalid PITR archive id ${JSON.stringify(archiveId)}`);
  return `${slug}/pitr/${archiveId}/`;
}

/**
 * An object's name inside its archive. Offsets are 8 uppercase hex digits, like the segment
 * names: fixed width so that `ls | sort` (the README's restore without btw) applies chunks in
 * ascending offset, and one spelling per offset so that a longer chunk read from the same
 * start replaces the shorter one (same key) instead of sitting beside it.
 */
export function walObjectName(obj: WalObject): string {
  switch (obj.kind) {
    case "segment":
      requireSegmentName(obj.segment);
      return `wal/${obj.segment}.gz.age`;
    case "chunk":
      requireSegmentName(obj.segment);
      if (!Number.isInteger(obj.offset) || obj.offset < 0 || obj.offset > MAX_SEG_SIZE) throw new RangeError(`invalid chunk offset ${obj.offset}`);
      return `wal/${obj.segment}.partial/${hex8(obj.offset)}.gz.age`;
    case "history":
      // history files are a few hundred bytes of text: not worth a gzip layer
      return `wal/${walHistoryName(obj.timeline)}.age`;
  }
}

/** The storage key of a WAL object: `<slug>/pitr/<archive id>/wal/…` */
export function objectKeyFor(slug: string, archiveId: string, obj: WalObject): string {
  return pitrArchivePrefix(slug, archiveId) + walObjectName(obj);
}

const OBJECT_KEY = /^([a-z0-9][a-z0-9-]*)\/pitr\/([^/]+)\/wal\/(?:([0-9A-F]{24})\.gz\.age|([0-9A-F]{24})\.partial\/([0-9A-F]{8})\.gz\.age|([0-9A-F]{8})\.history\.age)$/;

/**
 * A storage key back to its archive and WAL object (listing storage: `backup import`,
 * prune, restore), or null for anything else — archive.json, bases, partial uploads, keys
 * of other layouts. Names only: a segment's number needs the archive's segment size
 * (parseWalName).
 */
export function parseObjectKey(key: string): { slug: string; archive: string; object: WalObject } | null {
  const m = OBJECT_KEY.exec(key);
  if (!m || !ARCHIVE_ID.test(m[2]!)) return null;
  const [, slug, archive, segment, chunkOf, offset, tli] = m;
  let object: WalObject;
  if (segment !== undefined) object = { kind: "segment", segment };
  else if (chunkOf !== undefined) object = { kind: "chunk", segment: chunkOf, offset: parseInt(offset!, 16) };
  else {
    const timeline = parseInt(tli!, 16);
    if (timeline < 1) return null;
    object = { kind: "history", timeline };
  }
  return { slug: slug!, archive: archive!, object };
}

function requireSegmentName(name: string): void {
  if (!SEGMENT.test(name) || name.startsWith("00000000")) throw new RangeError(`not a WAL segment name: ${JSON.stringify(name)}`);
}
