import { describe, expect, it } from "vitest";
import {
  compareSegments,
  isPitrArchiveId,
  isValidSegSize,
  objectKeyFor,
  parseObjectKey,
  parseWalName,
  pitrArchiveId,
  pitrArchivePrefix,
  walHistoryName,
  walObjectName,
  walSegmentName,
  type WalObject,
} from "../../../src/core/pitr/wal-names.js";

const MiB = 1 << 20;
const GiB = 1 << 30;

describe("WAL segment names (PG's XLogFileName)", () => {
  it("splits the segment number by segments per 4 GiB: 256 at 16 MiB", () => {
    expect(walSegmentName(1, 0, 16 * MiB)).toBe("000000010000000000000000");
    // LSN 0/3000028 lies in segment 3
    expect(walSegmentName(1, 3, 16 * MiB)).toBe("000000010000000000000003");
    expect(walSegmentName(1, 255, 16 * MiB)).toBe("0000000100000000000000FF");
    expect(walSegmentName(1, 256, 16 * MiB)).toBe("000000010000000100000000");
    expect(walSegmentName(1, 0xab * 256 + 0xcd, 16 * MiB)).toBe("00000001000000AB000000CD");
  });

  it("four per xlogid at 1 GiB, 4096 at 1 MiB", () => {
    expect(walSegmentName(1, 5, GiB)).toBe("000000010000000100000001");
    expect(walSegmentName(1, 4095, MiB)).toBe("000000010000000000000FFF");
    expect(walSegmentName(1, 4096, MiB)).toBe("000000010000000100000000");
    // the same name is a different segment number at another size
    expect(parseWalName("000000010000000100000001", GiB)).toMatchObject({ segno: 5 });
    expect(parseWalName("000000010000000100000001", 16 * MiB)).toMatchObject({ segno: 257 });
  });

  it("timelines above 1 are in the first 8 digits, in uppercase hex", () => {
    expect(walSegmentName(10, 3, 16 * MiB)).toBe("0000000A0000000000000003");
    expect(walSegmentName(0x1f, 256, GiB)).toBe("0000001F0000004000000000");
    expect(walHistoryName(2)).toBe("00000002.history");
    expect(walHistoryName(0xab)).toBe("000000AB.history");
  });

  it("round trips segments, partials and histories at 16 MiB and 1 GiB on several timelines", () => {
    for (const segSize of [16 * MiB, GiB, MiB]) {
      for (const timeline of [1, 2, 0x1f, 0xffff_ffff]) {
        for (const segno of [0, 1, 3, 4, 255, 256, 257, 65_535, 1_000_003, 2 ** 32 * (2 ** 32 / segSize) - 1]) {
          const name = walSegmentName(timeline, segno, segSize);
          expect(name).toMatch(/^[0-9A-F]{24}$/);
          expect(parseWalName(name, segSize)).toEqual({ kind: "segment", name, timeline, segno });
          expect(parseWalName(`${name}.partial`, segSize)).toEqual({ kind: "partial", name: `${name}.partial`, segment: name, timeline, segno });
        }
        expect(parseWalName(walHistoryName(timeline), segSize)).toEqual({ kind: "history", name: walHistoryName(timeline), timeline });
      }
    }
  });

  it("segment numbers stay exact numbers up to the largest (2^44 - 1 at 1 MiB)", () => {
    const max = 2 ** 44 - 1;
    expect(Number.isSafeInteger(max)).toBe(true);
    expect(walSegmentName(1, max, MiB)).toBe("00000001FFFFFFFF00000FFF");
    expect(parseWalName("00000001FFFFFFFF00000FFF", MiB)).toMatchObject({ segno: max });
  });

  it("ignores what is not WAL to ship", () => {
    const seg = 16 * MiB;
    for (const name of [
      "000000010000000000000003.tmp",
      "000000010000000000000003.partial.tmp",
      "00000002.history.tmp",
      "000000010000000000000003.gz",
      "000000010000000000000003.gz.partial",
      "000000010000000000000003.lz4.partial",
      "00000001000000000000000a", // lowercase: not what PG writes
      "00000001000000000000003",
      "0000000100000000000000030",
      "000000000000000000000003", // timeline 0
      "00000000.history",
      "000000010000000000000100", // SEG 0x100 does not exist at 16 MiB
      "status",
      "receiver.pid",
      "",
    ]) {
      expect(parseWalName(name, seg), name).toBeNull();
    }
    expect(parseWalName("000000010000000000000004", GiB)).toBeNull();
    expect(parseWalName("000000010000000000000003", GiB)).not.toBeNull();
  });

  it("refuses segment sizes PG cannot have, and out-of-range numbers", () => {
    expect(isValidSegSize(16 * MiB)).toBe(true);
    expect(isValidSegSize(MiB / 2)).toBe(false);
    expect(isValidSegSize(2 * GiB)).toBe(false);
    expect(isValidSegSize(3 * MiB)).toBe(false);
    expect(() => walSegmentName(1, 1, 3 * MiB)).toThrow(RangeError);
    expect(() => parseWalName("000000010000000000000003", 3 * MiB)).toThrow(RangeError);
    expect(() => walSegmentName(0, 1, 16 * MiB)).toThrow(RangeError);
    expect(() => walSegmentName(1, -1, 16 * MiB)).toThrow(RangeError);
    expect(() => walSegmentName(1, 1.5, 16 * MiB)).toThrow(RangeError);
    expect(() => walSegmentName(1, 2 ** 40, 16 * MiB)).toThrow(RangeError);
    expect(() => walHistoryName(0)).toThrow(RangeError);
  });

  it("orders segments by number, then timeline (a new timeline restarts in the switch point's segment)", () => {
    const names = ["000000020000000000000005", "000000010000000100000000", "000000010000000000000005", "0000000100000000000000FF", "000000020000000000000006"];
    const sorted = names.map((n) => parseWalName(n, 16 * MiB)!).sort((a, b) => compareSegments(a as { segno: number; timeline: number }, b as { segno: number; timeline: number }));
    expect(sorted.map((w) => w.name)).toEqual([
      "000000010000000000000005",
      "000000020000000000000005",
      "000000020000000000000006",
      "0000000100000000000000FF",
      "000000010000000100000000",
    ]);
  });
});

describe("PITR object keys (§3)", () => {
  const at = new Date("2026-01-01T02:00:00.123Z");
  const archive = pitrArchiveId("acme", "7301234567890123456", at, "3f2a");

  it("archive ids: slug, sysid, stamp, random", () => {
    expect(archive).toBe("acme-7301234567890123456-20260101T020000Z-3f2a");
    expect(isPitrArchiveId(archive)).toBe(true);
    expect(isPitrArchiveId("acme-20260101T020000Z-3f2a")).toBe(false);
    expect(() => pitrArchiveId("acme", "73x", at, "3f2a")).toThrow(RangeError);
    expect(() => pitrArchiveId("acme", "1", at, "XYZ")).toThrow(RangeError);
    expect(() => pitrArchiveId("Acme", "1", at, "3f2a")).toThrow(/uppercase/);
  });

  it("lays objects out under <slug>/pitr/<archive>/wal/", () => {
    expect(pitrArchivePrefix("acme", archive)).toBe(`acme/pitr/${archive}/`);
    expect(objectKeyFor("acme", archive, { kind: "segment", segment: "000000010000000000000003" })).toBe(`acme/pitr/${archive}/wal/000000010000000000000003.gz.age`);
    expect(objectKeyFor("acme", archive, { kind: "chunk", segment: "000000010000000000000004", offset: 0x6000 })).toBe(
      `acme/pitr/${archive}/wal/000000010000000000000004.partial/00006000.gz.age`,
    );
    expect(objectKeyFor("acme", archive, { kind: "history", timeline: 2 })).toBe(`acme/pitr/${archive}/wal/00000002.history.age`);
    expect(walObjectName({ kind: "chunk", segment: "0000000A00000000000000FF", offset: 0 })).toBe("wal/0000000A00000000000000FF.partial/00000000.gz.age");
  });

  it("chunk names sort as their offsets (what `ls | sort` relies on)", () => {
    const offsets = [0, 8192, 0x9000 * 8, 65536, 16 * MiB - 8192, 0xa000];
    const names = offsets.map((offset) => walObjectName({ kind: "chunk", segment: "000000010000000000000004", offset }));
    expect([...names].sort()).toEqual([...offsets].sort((a, b) => a - b).map((offset) => walObjectName({ kind: "chunk", segment: "000000010000000000000004", offset })));
  });

  it("parses every key it builds back", () => {
    const objects: WalObject[] = [
      { kind: "segment", segment: "000000010000000000000003" },
      { kind: "segment", segment: "0000000200000001000000FF" },
      { kind: "chunk", segment: "000000010000000000000004", offset: 0 },
      { kind: "chunk", segment: "000000010000000000000004", offset: 16 * MiB - 8192 },
      { kind: "chunk", segment: "000000020000000000000004", offset: GiB - 8192 },
      { kind: "history", timeline: 2 },
      { kind: "history", timeline: 0x1f },
    ];
    for (const object of objects) {
      const key = objectKeyFor("acme", archive, object);
      expect(parseObjectKey(key), key).toEqual({ slug: "acme", archive, object });
    }
  });

  it("parses nothing else of a tenant's prefix", () => {
    for (const key of [
      `acme/pitr/${archive}/archive.json`,
      `acme/pitr/${archive}/base/acme-20260101T020000Z-3f2a.btwb`,
      "acme/acme-20260101T020000Z-3f2a.btwb",
      `acme/pitr/${archive}/wal/000000010000000000000003`,
      `acme/pitr/${archive}/wal/000000010000000000000003.gz`,
      `acme/pitr/${archive}/wal/00000001000000000000000a.gz.age`,
      `acme/pitr/${archive}/wal/000000010000000000000004.partial/0000600.gz.age`,
      `acme/pitr/${archive}/wal/000000010000000000000004.partial/00006000.gz.age.part`,
      `acme/pitr/${archive}/wal/00000000.history.age`,
      `acme/pitr/${archive}/wal/00000002.history.gz.age`,
      `acme/pitr/not-an-archive/wal/000000010000000000000003.gz.age`,
      `x/acme/pitr/${archive}/wal/000000010000000000000003.gz.age`,
    ]) {
      expect(parseObjectKey(key), key).toBeNull();
    }
  });

  it("refuses to name objects from bad parts", () => {
    expect(() => objectKeyFor("acme", "nope", { kind: "segment", segment: "000000010000000000000003" })).toThrow(RangeError);
    expect(() => objectKeyFor("ac/me", archive, { kind: "segment", segment: "000000010000000000000003" })).toThrow();
    expect(() => walObjectName({ kind: "segment", segment: "000000010000000000000003.partial" })).toThrow(RangeError);
    expect(() => walObjectName({ kind: "segment", segment: "000000000000000000000003" })).toThrow(RangeError);
    expect(() => walObjectName({ kind: "chunk", segment: "000000010000000000000003", offset: -8192 })).toThrow(RangeError);
    expect(() => walObjectName({ kind: "history", timeline: 0 })).toThrow(RangeError);
  });
});
