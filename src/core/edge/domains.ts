// Custom domains of tenants: what a hostname must look like, and whether the public DNS
// already sends it to the platform and proves it the tenant's. Pure: the lookups are passed
// in (src/remote/dns.ts asks real resolvers; tests pass a table).

import { createHash } from "node:crypto";
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
  /** the TXT records of `host`, each one's strings joined */
  txt(host: string): Promise<string[]>;
}

export type DnsVerdict =
  | { ok: true; via: "cname" | "address"; detail: string }
  | { ok: false; reason: string };

const canon = (h: string) => h.toLowerCase().replace(/\.$/, "");

/** The name whose TXT record proves a hostname that only points at the edge's addresses. */
export function challengeName(hostname: string): string {
  return `_btw-challenge.${hostname}`;
}

/**
 * The token the TXT record at `challengeName(hostname)` must hold for `tenant`: derived, so
 * every run of `tenant domain add` prints the same one, and public — it proves control of
 * the hostname's DNS, not knowledge of a secret. Keyed by the tenant's id (a later tenant of
 * the same name gets another), the hostname and the platform's domain.
 */
export function domainChallengeToken(tenant: { id: number; domain: string }, hostname: string): string {
  const h = createHash("sha256").update(`btw-domain-challenge/v1\n${canon(tenant.domain)}\n${tenant.id}\n${canon(hostname)}`).digest("hex");
  return `btw-${h.slice(0, 32)}`;
}

/**
 * Is `hostname` proven the tenant's, and does it lead to the edge? Yes when it is a CNAME to
 * `<tenant>.<domain>`. Every tenant's name resolves to the same edge addresses, so an address
 * alone proves nothing (apex domains cannot CNAME): when every address `hostname` resolves to
 * is the edge's — what `<tenant>.<domain>` resolves to (the wildcard record) plus
 * `extraAddresses` (the load balancer's or, in direct mode, the server's) — the TXT record
 * `_btw-challenge.<hostname>` must also hold the tenant's token. A CNAME to another name of
 * the platform (another tenant's) is refused whatever else is set.
 */
export async function checkDomainDns(
  hostname: string,
  tenant: { id: number; slug: string; domain: string },
  lookup: DnsLookup,
  extraAddresses: readonly string[] = [],
): Promise<DnsVerdict> {
  const target = tenantHost(tenant.slug, tenant.domain);
  const domain = canon(tenant.domain);
  const cnames = (await lookup.cname(hostname)).map(canon);
  if (cnames.includes(target)) return { ok: true, via: "cname", detail: `CNAME ${target}` };
  const foreign = cnames.find((c) => c === domain || c.endsWith(`.${domain}`));
  if (foreign) return { ok: false, reason: `${hostname} is a CNAME to ${foreign}, a platform name that is not ${tenant.slug}'s: point the CNAME at ${target}` };
  const token = domainChallengeToken(tenant, hostname);
  const txtName = challengeName(hostname);
  const txtRecord = `the TXT record ${txtName} "${token}"`;
  const [got, edge] = await Promise.all([lookup.addresses(hostname), lookup.addresses(target)]);
  const expected = new Set([...edge, ...extraAddresses].map((a) => a.toLowerCase()));
  const fix = `point it at ${target} (CNAME)${expected.size ? `, or at ${[...expected].sort().join(", ")} (A/AAAA) with ${txtRecord}` : ""}, or pass --skip-dns-check`;
  if (got.length === 0) {
    return { ok: false, reason: `${hostname} does not resolve${cnames.length ? ` (CNAME ${cnames.join(", ")})` : ""}: ${fix}` };
  }
  const stray = got.filter((a) => !expected.has(a.toLowerCase()));
  if (stray.length) return { ok: false, reason: `${hostname} resolves to ${[...got].sort().join(", ")}${cnames.length ? ` (CNAME ${cnames.join(", ")})` : ""}, not to the edge: ${fix}` };
  const txts = (await lookup.txt(txtName)).map((t) => t.trim());
  if (txts.includes(token)) return { ok: true, via: "address", detail: `${got.length === 1 ? "address" : "addresses"} ${[...got].sort().join(", ")}; TXT ${txtName}` };
  const orCname = `(or point a CNAME at ${target}), or pass --skip-dns-check`;
  if (txts.length === 0) return { ok: false, reason: `${hostname} resolves to the edge, but an address does not prove it is ${tenant.slug}'s: add ${txtRecord} ${orCname}` };
  return { ok: false, reason: `${hostname} resolves to the edge, but TXT ${txtName} does not hold ${tenant.slug}'s token: set it to "${token}" ${orCname}` };
}
