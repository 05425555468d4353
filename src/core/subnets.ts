// IPv4 CIDR arithmetic for per-tenant subnets. Each tenant gets one block carved from the
// configured pool (placement.subnetPool / subnetPrefix), unique on its server; the tenant
// stack splits it in two halves (internal, edge), see tenant/networks.ts. Addresses are
// plain numbers in [0, 2^32): no bitwise operators, which are signed 32-bit in JS.

import { ConfigError, UsageError } from "../errors.js";

export interface Cidr {
  /** network address as an unsigned 32-bit integer */
  base: number;
  prefix: number;
}

const TWO_32 = 2 ** 32;

/** Number of addresses in a block of this prefix length. */
export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** Dotted quad → unsigned integer, or null when malformed (leading zeros are refused: ambiguous). */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_32) throw new RangeError(`not an IPv4 address: ${value}`);
  const octets: number[] = [];
  let rest = value;
  for (let i = 0; i < 4; i++) {
    octets.unshift(rest % 256);
    rest = Math.floor(rest / 256);
  }
  return octets.join(".");
}

/** Why `text` is not an aligned IPv4 CIDR, or null when it is one. */
export function cidrProblem(text: string): string | null {
  const slash = text.indexOf("/");
  if (slash < 0) return `'${text}' is not a CIDR (expected a.b.c.d/n)`;
  const base = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (base === null) return `'${text}' does not start with an IPv4 address`;
  if (!/^(0|[1-9]\d?)$/.test(prefixText) || Number(prefixText) > 32) return `'${text}' has an invalid prefix length (0–32)`;
  const prefix = Number(prefixText);
  if (base % blockSize(prefix) !== 0) {
    const aligned = formatCidr({ base: base - (base % blockSize(prefix)), prefix });
    return `'${text}' has host bits set; the network is ${aligned}`;
  }
  return null;
}

/** Parse an aligned IPv4 CIDR; throws UsageError (exit 2) otherwise. */
export function parseCidr(text: string): Cidr {
  const problem = cidrProblem(text);
  if (problem !== null) throw new UsageError(`invalid subnet: ${problem}`, { code: "invalid-subnet" });
  const slash = text.indexOf("/");
  return { base: parseIpv4(text.slice(0, slash)) as number, prefix: Number(text.slice(slash + 1)) };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.base)}/${cidr.prefix}`;
}

/** True when the two blocks share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + blockSize(b.prefix) && b.base < a.base + blockSize(a.prefix);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + blockSize(inner.prefix) <= outer.base + blockSize(outer.prefix);
}

/** The two halves of a block, lower first: 10.0.0.0/26 → 10.0.0.0/27, 10.0.0.32/27. */
export function splitCidr(cidr: Cidr): [Cidr, Cidr] {
  if (cidr.prefix >= 32) throw new RangeError(`cannot split ${formatCidr(cidr)}`);
  const prefix = cidr.prefix + 1;
  return [
    { base: cidr.base, prefix },
    { base: cidr.base + blockSize(prefix), prefix },
  ];
}

/** Why this pool/prefix pair cannot hand out subnets, or null when it can. */
export function poolProblem(pool: string, prefix: number): string | null {
  const problem = cidrProblem(pool);
  if (problem !== null) return `subnet pool ${problem}`;
  const poolPrefix = Number(pool.slice(pool.indexOf("/") + 1));
  if (!Number.isInteger(prefix) || prefix > 32) return `subnet prefix /${prefix} is not a prefix length (0–32)`;
  if (prefix <= poolPrefix) return `subnet prefix /${prefix} must be longer than the pool's /${poolPrefix} (${pool})`;
  return null;
}

/**
 * The first block of length `prefix` inside `pool` that overlaps none of `taken` (the
 * subnets already used on that server; blocks of other sizes or outside the pool are fine),
 * or null when the pool is exhausted. Lowest address first, so released blocks are reused.
 * Throws ConfigError for a bad pool/prefix and UsageError for a malformed `taken` entry.
 */
export function allocateSubnet(pool: string, prefix: number, taken: readonly string[]): string | null {
  const problem = poolProblem(pool, prefix);
  if (problem !== null) throw new ConfigError(problem, { code: "invalid-subnet-pool", hint: "fix placement.subnetPool / placement.subnetPrefix in the config" });
  const range = parseCidr(pool);
  const end = range.base + blockSize(range.prefix);
  const size = blockSize(prefix);
  // Taken blocks as [start, stop) intervals sorted by start: one sweep, no candidate loop.
  const intervals = taken
    .map(parseCidr)
    .map((c) => [c.base, c.base + blockSize(c.prefix)] as const)
    .filter(([start, stop]) => start < end && stop > range.base)
    .sort((a, b) => a[0] - b[0]);
  let candidate = range.base;
  for (const [start, stop] of intervals) {
    if (candidate + size <= start) break;
    if (stop > candidate) candidate = Math.ceil(stop / size) * size;
  }
  return candidate + size <= end ? formatCidr({ base: candidate, prefix }) : null;
}

/** How many blocks of `prefix` the pool holds in total. */
export function poolCapacity(pool: string, prefix: number): number {
  const problem = poolProblem(pool, prefix);
  if (problem !== null) throw new ConfigError(problem, { code: "invalid-subnet-pool" });
  return 2 ** (prefix - parseCidr(pool).prefix);
}
