import { describe, expect, it } from "vitest";
import {
  allocateSubnet,
  cidrContains,
  cidrProblem,
  cidrsOverlap,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
  poolCapacity,
  poolProblem,
  splitCidr,
} from "../../../src/core/subnets.js";
import { ConfigError, UsageError } from "../../../src/errors.js";

describe("IPv4 parsing and formatting", () => {
  it.each([
    ["0.0.0.0", 0],
    ["10.220.0.0", 10 * 2 ** 24 + 220 * 2 ** 16],
    ["255.255.255.255", 2 ** 32 - 1],
    ["192.168.1.7", 3232235783],
  ])("%s ⇄ %d", (text, value) => {
    expect(parseIpv4(text)).toBe(value);
    expect(formatIpv4(value)).toBe(text);
  });

  it.each(["", "10.0.0", "10.0.0.0.0", "256.0.0.0", "10.0.0.-1", "010.0.0.0", "1e1.0.0.0", "a.b.c.d", " 10.0.0.0", "10..0.0"])(
    "refuses %j",
    (text) => {
      expect(parseIpv4(text)).toBeNull();
    },
  );

  it("formatIpv4 refuses values outside 32 bits", () => {
    expect(() => formatIpv4(2 ** 32)).toThrow(RangeError);
    expect(() => formatIpv4(-1)).toThrow(RangeError);
    expect(() => formatIpv4(1.5)).toThrow(RangeError);
  });
});

describe("CIDR parsing", () => {
  it("round-trips an aligned block", () => {
    expect(parseCidr("10.220.0.64/26")).toEqual({ base: parseIpv4("10.220.0.64"), prefix: 26 });
    expect(formatCidr(parseCidr("10.220.0.64/26"))).toBe("10.220.0.64/26");
    expect(formatCidr(parseCidr("0.0.0.0/0"))).toBe("0.0.0.0/0");
    expect(formatCidr(parseCidr("10.1.2.3/32"))).toBe("10.1.2.3/32");
  });

  it.each([
    ["10.220.0.1/16", "'10.220.0.1/16' has host bits set; the network is 10.220.0.0/16"],
    ["10.220.0.32/26", "'10.220.0.32/26' has host bits set; the network is 10.220.0.0/26"],
    ["10.220.0.0", "'10.220.0.0' is not a CIDR (expected a.b.c.d/n)"],
    ["10.220.0.0/33", "'10.220.0.0/33' has an invalid prefix length (0–32)"],
    ["10.220.0.0/016", "'10.220.0.0/016' has an invalid prefix length (0–32)"],
    ["10.220.0.0/", "'10.220.0.0/' has an invalid prefix length (0–32)"],
    ["10.300.0.0/16", "'10.300.0.0/16' does not start with an IPv4 address"],
  ])("explains why %j is not an aligned CIDR", (text, problem) => {
    expect(cidrProblem(text)).toBe(problem);
    expect(() => parseCidr(text)).toThrow(UsageError);
  });

  it("overlap and containment", () => {
    const pool = parseCidr("10.220.0.0/16");
    expect(cidrsOverlap(parseCidr("10.220.0.0/26"), parseCidr("10.220.0.32/27"))).toBe(true);
    expect(cidrsOverlap(parseCidr("10.220.0.0/26"), parseCidr("10.220.0.64/26"))).toBe(false);
    expect(cidrsOverlap(pool, parseCidr("10.220.255.192/26"))).toBe(true);
    expect(cidrsOverlap(pool, parseCidr("10.221.0.0/26"))).toBe(false);
    expect(cidrContains(pool, parseCidr("10.220.255.192/26"))).toBe(true);
    expect(cidrContains(pool, parseCidr("10.220.0.0/15"))).toBe(false);
    expect(cidrContains(parseCidr("10.220.0.0/26"), pool)).toBe(false);
  });

  it("splits a block into its lower and upper halves", () => {
    expect(splitCidr(parseCidr("10.220.0.64/26")).map(formatCidr)).toEqual(["10.220.0.64/27", "10.220.0.96/27"]);
    expect(splitCidr(parseCidr("0.0.0.0/0")).map(formatCidr)).toEqual(["0.0.0.0/1", "128.0.0.0/1"]);
    expect(() => splitCidr(parseCidr("10.0.0.1/32"))).toThrow(RangeError);
  });
});

describe("poolProblem", () => {
  it("accepts the default pool and prefix", () => {
    expect(poolProblem("10.220.0.0/16", 26)).toBeNull();
  });

  it.each([
    ["10.220.0.0/16", 16, "subnet prefix /16 must be longer than the pool's /16 (10.220.0.0/16)"],
    ["10.220.0.0/16", 12, "subnet prefix /12 must be longer than the pool's /16 (10.220.0.0/16)"],
    ["10.220.0.0/16", 33, "subnet prefix /33 is not a prefix length (0–32)"],
    ["10.220.0.0/16", 26.5, "subnet prefix /26.5 is not a prefix length (0–32)"],
    ["10.220.1.0/16", 26, "subnet pool '10.220.1.0/16' has host bits set; the network is 10.220.0.0/16"],
  ])("refuses pool %s with /%d", (pool, prefix, problem) => {
    expect(poolProblem(pool, prefix)).toBe(problem);
    expect(() => allocateSubnet(pool, prefix, [])).toThrow(ConfigError);
  });
});

describe("allocateSubnet", () => {
  const pool = "10.220.0.0/16";

  it("hands out the first block of an empty pool", () => {
    expect(allocateSubnet(pool, 26, [])).toBe("10.220.0.0/26");
  });

  it("hands out the next block after the taken ones", () => {
    expect(allocateSubnet(pool, 26, ["10.220.0.0/26"])).toBe("10.220.0.64/26");
    expect(allocateSubnet(pool, 26, ["10.220.0.64/26", "10.220.0.0/26", "10.220.0.128/26"])).toBe("10.220.0.192/26");
  });

  it("reuses the lowest gap left by a released subnet", () => {
    const taken = ["10.220.0.0/26", "10.220.0.128/26", "10.220.0.192/26"];
    expect(allocateSubnet(pool, 26, taken)).toBe("10.220.0.64/26");
  });

  it("does not depend on the order of taken subnets", () => {
    const taken = ["10.220.1.0/26", "10.220.0.0/26", "10.220.0.64/26", "10.220.0.192/26", "10.220.0.128/26"];
    expect(allocateSubnet(pool, 26, taken)).toBe("10.220.1.64/26");
    expect(allocateSubnet(pool, 26, [...taken].reverse())).toBe("10.220.1.64/26");
  });

  it("skips blocks that overlap a taken subnet of another size", () => {
    // A /24 taken (e.g. allocated before the prefix changed) covers four /26s.
    expect(allocateSubnet(pool, 26, ["10.220.0.0/24"])).toBe("10.220.1.0/26");
    // A small taken block inside the first /26 rules that /26 out.
    expect(allocateSubnet(pool, 26, ["10.220.0.40/29"])).toBe("10.220.0.64/26");
    // Nested taken blocks.
    expect(allocateSubnet(pool, 26, ["10.220.0.0/24", "10.220.0.64/26", "10.220.1.0/27"])).toBe("10.220.1.64/26");
  });

  it("ignores taken subnets outside the pool", () => {
    expect(allocateSubnet(pool, 26, ["10.221.0.0/26", "172.29.0.0/24", "10.219.255.192/26"])).toBe("10.220.0.0/26");
  });

  it("counts a taken block that contains the whole pool as exhausting it", () => {
    expect(allocateSubnet(pool, 26, ["10.0.0.0/8"])).toBeNull();
  });

  it("fills the pool exactly, then returns null", () => {
    const small = "10.220.0.0/24";
    expect(poolCapacity(small, 26)).toBe(4);
    const taken: string[] = [];
    for (;;) {
      const next = allocateSubnet(small, 26, taken);
      if (next === null) break;
      taken.push(next);
    }
    expect(taken).toEqual(["10.220.0.0/26", "10.220.0.64/26", "10.220.0.128/26", "10.220.0.192/26"]);
    expect(allocateSubnet(small, 26, taken)).toBeNull();
    // release one: it comes back
    expect(allocateSubnet(small, 26, taken.filter((t) => t !== "10.220.0.128/26"))).toBe("10.220.0.128/26");
  });

  it("allocates all 1,024 /26 of the default pool without duplicates", () => {
    expect(poolCapacity(pool, 26)).toBe(1024);
    const taken: string[] = [];
    let next = allocateSubnet(pool, 26, taken);
    while (next !== null) {
      taken.push(next);
      next = allocateSubnet(pool, 26, taken);
    }
    expect(taken).toHaveLength(1024);
    expect(new Set(taken).size).toBe(1024);
    expect(taken[1023]).toBe("10.220.255.192/26");
  });

  it("works at the top of the address space", () => {
    expect(allocateSubnet("255.255.255.0/24", 25, ["255.255.255.0/25"])).toBe("255.255.255.128/25");
    expect(allocateSubnet("255.255.255.0/24", 25, ["255.255.255.0/25", "255.255.255.128/25"])).toBeNull();
  });

  it("refuses a malformed taken entry", () => {
    expect(() => allocateSubnet(pool, 26, ["10.220.0.1/26"])).toThrow(UsageError);
  });
});
