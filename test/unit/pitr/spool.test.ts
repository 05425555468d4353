import { describe, expect, it } from "vitest";
import {
  archiveLag,
  assemblePartial,
  chunkKeyFor,
  deletable,
  pageFloor,
  planShipment,
  trimZeroPages,
  walDataEnd,
  type ShipPlanInput,
  type SpoolFile,
} from "../../../src/core/pitr/spool.js";
import { walSegmentName } from "../../../src/core/pitr/wal-names.js";

const SEG = 16 << 20;
const seg = (n: number, tli = 1) => walSegmentName(tli, n, SEG);
const file = (name: string, size = SEG): SpoolFile => ({ name, size, mtime: 1_700_000_000 });
const complete = (n: number, tli = 1) => file(seg(n, tli));
const partial = (n: number, tli = 1) => file(`${seg(n, tli)}.partial`);
const plan = (files: SpoolFile[], shipped: Partial<ShipPlanInput["shipped"]>, rest: Partial<ShipPlanInput> = {}) =>
  planShipment({ files, shipped: { segment: null, partial: null, ...shipped }, segSize: SEG, ...rest });
const seen = (p: ReturnType<typeof planShipment>) =>
  p.actions.map((a) => (a.kind === "partial-range" ? `${a.kind} ${a.name} ${a.from}-${a.to}` : `${a.kind} ${a.name}`));

describe("planShipment", () => {
  it("plans nothing when the spool holds only what is stored (the newest complete is kept there)", () => {
    const p = plan([complete(5), file("000000010000000000000006.partial.tmp", 10)], { segment: seg(5) });
    expect(p).toEqual({ actions: [], gap: false, completes: [], blocked: null });
    // an open segment shipped to its end (full, not yet renamed) has nothing left either
    expect(plan([complete(5), partial(6)], { segment: seg(5), partial: { name: seg(6), offset: SEG } }).actions).toEqual([]);
  });

  it("ships new complete segments in stream order, then the open segment from its start", () => {
    const p = plan([partial(6), complete(5), complete(3), complete(4)], { segment: seg(3) });
    expect(seen(p)).toEqual([`segment ${seg(4)}`, `segment ${seg(5)}`, `partial-range ${seg(6)}.partial 0-${SEG}`]);
    expect(p.gap).toBe(false);
    expect(p.actions[2]).toEqual({ kind: "partial-range", name: `${seg(6)}.partial`, segment: seg(6), timeline: 1, segno: 6, from: 0, to: SEG, blockSize: 65536 });
  });

  it("reads the open segment again from the page of its shipped offset (PG rewrites a partly written page)", () => {
    // 20000 is in the third page: pages 0 and 1 are complete, page 2 may still grow
    const p = plan([complete(3), complete(4), complete(5), partial(6)], { segment: seg(3), partial: { name: `${seg(6)}.partial`, offset: 20_000 } });
    expect(seen(p)).toEqual([`segment ${seg(4)}`, `segment ${seg(5)}`, `partial-range ${seg(6)}.partial 16384-${SEG}`]);
    expect(p.gap).toBe(false);
    // the offset may name the segment with or without .partial; a page whose last byte is written is complete
    expect(plan([complete(5), partial(6)], { segment: seg(5), partial: { name: seg(6), offset: 24_576 } }).actions).toMatchObject([{ kind: "partial-range", from: 24_576 }]);
    expect(plan([complete(5), partial(6)], { segment: seg(5), partial: { name: seg(6), offset: 24_575 } }).actions).toMatchObject([{ kind: "partial-range", from: 16_384 }]);
    // the page and block sizes are parameters
    expect(plan([complete(5), partial(6)], { segment: seg(5), partial: { name: seg(6), offset: 5000 } }, { pageSize: 4096, blockSize: 8192 }).actions).toMatchObject([
      { kind: "partial-range", from: 4096, blockSize: 8192 },
    ]);
  });

  it("a shipped open segment that completed is shipped whole; its chunks are not planned again, the next one starts at 0", () => {
    const p = plan([complete(3), complete(4), partial(5)], { segment: seg(3), partial: { name: `${seg(4)}.partial`, offset: 9_000_000 } });
    expect(seen(p)).toEqual([`segment ${seg(4)}`, `partial-range ${seg(5)}.partial 0-${SEG}`]);
    expect(p.completes).toEqual([seg(4)]);
    expect(p.gap).toBe(false);
    // the complete object stored, the state moved on: a stale partial offset changes nothing
    const next = plan([complete(4), partial(5)], { segment: seg(4), partial: { name: `${seg(4)}.partial`, offset: 9_000_000 } });
    expect(seen(next)).toEqual([`partial-range ${seg(5)}.partial 0-${SEG}`]);
    expect(next.completes).toEqual([]);
  });

  it("reports a spool gap: the first segment to ship does not follow the last stored", () => {
    const p = plan([complete(7), complete(8), partial(9)], { segment: seg(5) });
    expect(p.gap).toBe(true);
    // it still plans: starting a new archive is the caller's decision
    expect(seen(p)).toEqual([`segment ${seg(7)}`, `segment ${seg(8)}`, `partial-range ${seg(9)}.partial 0-${SEG}`]);
    // only an open segment, past the next one
    expect(plan([partial(7)], { segment: seg(5) }).gap).toBe(true);
    expect(plan([partial(6)], { segment: seg(5) }).gap).toBe(false);
    // a hole inside the spool
    expect(plan([complete(6), complete(8)], { segment: seg(5) }).gap).toBe(true);
    // the shipped open segment vanished before it completed: its tail is lost
    expect(plan([partial(6)], { segment: seg(4), partial: { name: seg(5), offset: 100 } }).gap).toBe(true);
    expect(plan([partial(6)], { partial: { name: seg(5), offset: 100 } }).gap).toBe(true);
    expect(plan([partial(5)], { partial: { name: seg(5), offset: 100 } }).gap).toBe(false);
    // nothing stored yet: the spool's first segment starts the archive
    expect(plan([complete(7), partial(8)], {}).gap).toBe(false);
  });

  it("ships history files not yet stored, first; a timeline switch is no gap", () => {
    // timeline 2 started in segment 5: timeline 1's copy of it stays a .partial, never planned
    const files = [complete(4), partial(5, 1), complete(5, 2), partial(6, 2), file("00000002.history", 41), file("00000003.history", 82)];
    const p = plan(files, { segment: seg(4), partial: { name: seg(5, 1), offset: 30_000 } }, { storedHistory: ["00000003.history"] });
    expect(seen(p)).toEqual([`history 00000002.history`, `segment ${seg(5, 2)}`, `partial-range ${seg(6, 2)}.partial 0-${SEG}`]);
    expect(p.actions[0]).toEqual({ kind: "history", name: "00000002.history", timeline: 2 });
    expect(p.gap).toBe(false);
    expect(p.completes).toEqual([]);
    // all stored: none again
    expect(plan(files, { segment: seg(5, 2) }, { storedHistory: new Set(["00000002.history", "00000003.history"]) }).actions.filter((a) => a.kind === "history")).toEqual([]);
    // a switch while the old timeline's segment was open: the new one continues in the same segment
    const open = plan([partial(5, 1), partial(5, 2)], { segment: seg(4), partial: { name: seg(5, 1), offset: 30_000 } });
    expect(seen(open)).toEqual([`partial-range ${seg(5, 2)}.partial 0-${SEG}`]);
    expect(open.gap).toBe(false);
  });

  it("plans no old partial when a newer complete segment exists, and only the newest partial", () => {
    expect(seen(plan([partial(5, 1), complete(5, 2), complete(6, 2)], { segment: seg(4) }))).toEqual([`segment ${seg(5, 2)}`, `segment ${seg(6, 2)}`]);
    expect(seen(plan([partial(5), partial(6)], { segment: seg(4) }))).toEqual([`partial-range ${seg(6)}.partial 0-${SEG}`]);
  });

  it("stops at a complete segment of the wrong size (not this cluster's): nothing after it", () => {
    const p = plan([complete(4), file(seg(5), 1 << 20), complete(6), partial(7)], { segment: seg(3) });
    expect(seen(p)).toEqual([`segment ${seg(4)}`]);
    expect(p.blocked).toEqual({ name: seg(5), reason: `${1 << 20} bytes, not the segment size ${SEG}` });
  });

  it("crosses an xlogid boundary at 16 MiB and orders by number at 1 GiB", () => {
    expect(seen(plan([complete(255), complete(256), partial(257)], { segment: seg(254) }))).toEqual([`segment ${seg(255)}`, `segment ${seg(256)}`, `partial-range ${seg(257)}.partial 0-${SEG}`]);
    const G = 1 << 30;
    const g = (n: number) => walSegmentName(1, n, G);
    const p = planShipment({ files: [file(g(4), G), file(g(3), G), file(`${g(5)}.partial`, G)], shipped: { segment: g(2), partial: { name: g(5), offset: 8193 } }, segSize: G });
    expect(p.actions.map((a) => a.name)).toEqual([g(3), g(4), `${g(5)}.partial`]);
    expect(p.actions[2]).toMatchObject({ from: 8192, to: G });
    expect(p.gap).toBe(false);
  });

  it("refuses a shipped name that is no segment, and sizes that do not fit", () => {
    expect(() => plan([], { segment: "nope" })).toThrow(RangeError);
    expect(() => plan([], { segment: "00000002.history" })).toThrow(RangeError);
    expect(() => plan([], {}, { blockSize: 10_000 })).toThrow(RangeError);
    expect(() => plan([], {}, { pageSize: 3000 })).toThrow(RangeError);
  });
});

describe("deletable", () => {
  it("drops stored complete segments except the newest complete one", () => {
    const files = [complete(3), complete(4), complete(5), partial(6), file("00000002.history", 41)];
    expect(deletable(files, new Set([seg(3), seg(4), seg(5)]))).toEqual([seg(3), seg(4)]);
    // not yet stored: stays
    expect(deletable(files, [seg(4), seg(5)])).toEqual([seg(4)]);
    expect(deletable(files, [])).toEqual([]);
    expect(deletable([complete(5)], [seg(5)])).toEqual([]);
    // history files and partials never
    expect(deletable(files, ["00000002.history", `${seg(6)}.partial`, seg(3)])).toEqual([seg(3)]);
  });

  it("orders by segment number then timeline, without the segment size", () => {
    const files = [file("000000010000000100000000"), file("0000000100000000000000FF"), complete(5, 2), complete(4, 1)];
    expect(deletable(files, files.map((f) => f.name))).toEqual([seg(4, 1), seg(5, 2), "0000000100000000000000FF"]);
    expect(deletable([complete(5, 1), complete(5, 2)], [seg(5, 1), seg(5, 2)])).toEqual([seg(5, 1)]);
  });
});

describe("zero pages", () => {
  const page = 8192;
  const withBytes = (length: number, at: number[]) => {
    const b = Buffer.alloc(length);
    for (const i of at) b[i] = 0x7e;
    return b;
  };

  it("trims trailing all-zero pages, keeping whole written pages", () => {
    expect(trimZeroPages(Buffer.alloc(0))).toBe(0);
    expect(trimZeroPages(Buffer.alloc(8 * page))).toBe(0);
    expect(trimZeroPages(withBytes(8 * page, [0]))).toBe(page);
    expect(trimZeroPages(withBytes(8 * page, [page - 1]))).toBe(page);
    expect(trimZeroPages(withBytes(8 * page, [page]))).toBe(2 * page);
    expect(trimZeroPages(withBytes(8 * page, [0, 3 * page + 17]))).toBe(4 * page);
    expect(trimZeroPages(withBytes(8 * page, [8 * page - 1]))).toBe(8 * page);
    // a zero page in the middle is kept (only trailing ones go)
    expect(trimZeroPages(withBytes(8 * page, [0, 5 * page]))).toBe(6 * page);
  });

  it("treats a tail shorter than a page as a page", () => {
    expect(trimZeroPages(withBytes(2 * page + 100, [0]))).toBe(page);
    expect(trimZeroPages(withBytes(2 * page + 100, [2 * page + 99]))).toBe(2 * page + 100);
    expect(trimZeroPages(withBytes(2 * page + 100, [2 * page]))).toBe(2 * page + 100);
    expect(trimZeroPages(withBytes(100, [5]))).toBe(100);
    expect(trimZeroPages(Buffer.alloc(100))).toBe(0);
  });

  it("takes a page size", () => {
    expect(trimZeroPages(withBytes(8192, [4096]), 4096)).toBe(8192);
    expect(trimZeroPages(withBytes(8192, [4095]), 4096)).toBe(4096);
  });

  it("the data end is the shipped offset: its page is read again next time unless its last byte is written", () => {
    const b = withBytes(4 * page, [0, page + 300]);
    expect(walDataEnd(b)).toBe(page + 301);
    expect(walDataEnd(Buffer.alloc(page))).toBe(0);
    const from = 16_384;
    expect(pageFloor(from + walDataEnd(b))).toBe(from + page);
    expect(pageFloor(from + walDataEnd(withBytes(4 * page, [2 * page - 1])))).toBe(from + 2 * page);
    expect(pageFloor(0)).toBe(0);
    expect(pageFloor(8191)).toBe(0);
    expect(pageFloor(8192)).toBe(8192);
    expect(() => pageFloor(-1)).toThrow(RangeError);
  });
});

describe("chunks of an open segment", () => {
  it("are named by their page-aligned start under the segment's .partial/", () => {
    expect(chunkKeyFor(seg(5), 0)).toBe(`wal/${seg(5)}.partial/00000000.gz.age`);
    expect(chunkKeyFor(`${seg(5)}.partial`, 16_384)).toBe(`wal/${seg(5)}.partial/00004000.gz.age`);
    expect(chunkKeyFor(seg(5, 10), SEG - 8192)).toBe(`wal/${seg(5, 10)}.partial/00FFE000.gz.age`);
    expect(() => chunkKeyFor(seg(5), 20_000)).toThrow(RangeError);
  });

  it("assemble in ascending offset; a later start holds newer bytes; zero-padded to the segment size", () => {
    const S = 64 * 1024;
    const fill = (n: number, v: number) => Buffer.alloc(n, v);
    // first cycle: pages 0–2 (page 2 partly written); second: from page 2, longer; third: from page 4
    const first = { offset: 0, data: Buffer.concat([fill(2 * 8192, 1), fill(100, 1), fill(8092, 0)]) };
    const second = { offset: 16_384, data: Buffer.concat([fill(8192, 2), fill(8192, 2), fill(50, 2)]) };
    const third = { offset: 32_768, data: fill(8192, 3) };
    const out = assemblePartial([third, first, second], S);
    expect(out.length).toBe(S);
    expect(out.subarray(0, 16_384).every((b) => b === 1)).toBe(true);
    expect(out.subarray(16_384, 32_768).every((b) => b === 2)).toBe(true);
    expect(out.subarray(32_768, 40_960).every((b) => b === 3)).toBe(true);
    expect(out.subarray(40_960).every((b) => b === 0)).toBe(true);
  });

  it("of two chunks with the same start, the later given wins; out-of-segment chunks are refused", () => {
    const S = 32 * 1024;
    const out = assemblePartial(
      [
        { offset: 8192, data: Buffer.alloc(8192, 7) },
        { offset: 8192, data: Buffer.alloc(100, 9) },
      ],
      S,
    );
    expect(out[8192]).toBe(9);
    expect(out[8192 + 99]).toBe(9);
    expect(out[8192 + 100]).toBe(7);
    expect(assemblePartial([], S)).toEqual(Buffer.alloc(S));
    expect(() => assemblePartial([{ offset: S - 10, data: Buffer.alloc(20, 1) }], S)).toThrow(RangeError);
    expect(() => assemblePartial([{ offset: -8192, data: Buffer.alloc(1, 1) }], S)).toThrow(RangeError);
  });
});

describe("archiveLag", () => {
  it("is seconds since the last full shipment, null when never, never negative", () => {
    const now = new Date("2026-01-01T00:01:00Z");
    expect(archiveLag(null, now)).toBeNull();
    expect(archiveLag(new Date("2026-01-01T00:00:00Z"), now)).toBe(60);
    expect(archiveLag(new Date("2026-01-01T00:00:59.500Z"), now)).toBe(0.5);
    expect(archiveLag(new Date("2026-01-01T00:01:02Z"), now)).toBe(0);
  });
});
