// Custom domains of tenants: what a hostname must look like, and whether the public DNS
// already sends it to the platform. Pure: the lookups are passed in (src/remote/dns.ts
// asks real resolvers; tests pass a table).

import { UsageError } from "../../errors.js";
import { tenantHost } from "../tenant/layout.js";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TLD = /^[a-z]{2,63}$/;
const IPV4_LIKE = /^[\d.]+$/;

/**
 * The hostname in canonical form (lower case, no trailing dot), or a UsageError in one line:
 * a DNS name of at least two labels, not an address, no wildcard, and not a name of the
 * platform's own domain (those are the tenants' names, routed already).
 */
export function requireCustomHostname(input: string, platformDomain: string): string {
  const h = input.trim().toLowerCase().replace(/\.$/, "");
  const bad = (why: string) => new UsageError(`invalid hostname ${JSON.stringify(input)}: ${why}`, { code: "invalid-hostname" });
  if (h === "") throw bad("empty");
  if (h.includes("*")) throw bad("wildcards are not custom domains");
  if (IPV4_LIKE.test(h) || h.includes(":")) throw bad("an address, not a DNS name");
  if (h.length > 253) throw bad("longer than 253 characters");
  const labels = h.split(".");
  if (labels.length < 2) throw bad("a custom domain has at least two labels, like app.customer.com");
  for (const l of labels) {
    if (!LABEL.test(l)) throw bad(`label ${JSON.stringify(l)} is not 1–63 characters of a–z 0–9 - (not starting or ending with -)`);
  }
  if (!TLD.test(labels[labels.length - 1]!)) throw bad("the last label must be letters");
  const d = platformDomain.toLowerCase();
  if (h === d || h.endsWith(`.${d}`)) throw bad(`names under ${d} are the tenants' own names`);
  return h;
}

/** What the resolver answers; an empty list for "no such record". */
export interface DnsLookup {
  cname(host: string): Promise<string[]>;
  addresses(host: string): Promise<string[]>;
}

export type DnsVerdict =
  | { ok: true; via: "cname" | "address"; detail: string }
  | { ok: false; reason: string };

const canon = (h: string) => h.toLowerCase().replace(/\.$/, "");

/**
 * Does `hostname` lead to the edge? Yes when it is a CNAME to `<tenant>.<domain>`, or when
 * every address it resolves to is one of the edge's: the addresses `<tenant>.<domain>`
 * resolves to (the wildcard record at the edge) plus `extraAddresses` (e.g. the load
 * balancer's or, in direct mode, the server's public addresses).
 */
export async function checkDomainDns(
  hostname: string,
  tenant: { slug: string; domain: string },
  lookup: DnsLookup,
  extraAddresses: readonly string[] = [],
): Promise<DnsVerdict> {
  const target = tenantHost(tenant.slug, tenant.domain);
  const cnames = (await lookup.cname(hostname)).map(canon);
  if (cnames.includes(target)) return { ok: true, via: "cname", detail: `CNAME ${target}` };
  const [got, edge] = await Promise.all([lookup.addresses(hostname), lookup.addresses(target)]);
  const expected = new Set([...edge, ...extraAddresses].map((a) => a.toLowerCase()));
  const fix = `point it at ${target} (CNAME)${expected.size ? ` or at ${[...expected].sort().join(", ")} (A/AAAA)` : ""}, or pass --skip-dns-check`;
  if (got.length === 0) {
    return { ok: false, reason: `${hostname} does not resolve${cnames.length ? ` (CNAME ${cnames.join(", ")})` : ""}: ${fix}` };
  }
  const stray = got.filter((a) => !expected.has(a.toLowerCase()));
  if (stray.length === 0) return { ok: true, via: "address", detail: `${got.length === 1 ? "address" : "addresses"} ${[...got].sort().join(", ")}` };
  return { ok: false, reason: `${hostname} resolves to ${[...got].sort().join(", ")}${cnames.length ? ` (CNAME ${cnames.join(", ")})` : ""}, not to the edge: ${fix}` };
}
