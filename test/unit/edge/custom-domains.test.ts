// Custom domains without a server: the hostname's validation (one line, exit 2), the DNS
// check against a table-driven resolver, both route tables (edge and the tenant server's
// proxy) carrying the domain, and WEBHOOK_URL following the chosen domain.
import { describe, expect, it } from "vitest";
import { checkDomainDns, domainChallengeToken, requireCustomHostname, type DnsLookup } from "../../../src/core/edge/domains.js";
import { renderEdgeCaddyfile } from "../../../src/core/edge/caddyfile.js";
import { renderCaddyfile } from "../../../src/core/proxy/caddyfile.js";
import { tenantEnvValues } from "../../../src/core/tenant/env.js";
import { UsageError } from "../../../src/errors.js";
import { dnsServersFrom } from "../../../src/remote/dns.js";
import { envInput } from "../tenant/fixtures.js";

describe("requireCustomHostname", () => {
  it("canonicalises case and a trailing dot", () => {
    expect(requireCustomHostname("App.Customer.COM.", "example.com")).toBe("app.customer.com");
    expect(requireCustomHostname("xn--bcher-kva.de", "example.com")).toBe("xn--bcher-kva.de");
  });

  it.each([
    ["", /empty/],
    ["localhost", /at least two labels/],
    ["*.customer.com", /wildcards/],
    ["203.0.113.7", /an address/],
    ["2001:db8::1", /an address/],
    ["app_1.customer.com", /label "app_1"/],
    ["-app.customer.com", /label "-app"/],
    ["a..customer.com", /label ""/],
    ["app.customer.c0m", /last label must be letters/],
    ["app;rm -rf.customer.com", /label/],
    [`${"a".repeat(64)}.customer.com`, /label/],
    [`${"abcdefghi.".repeat(26)}com`, /longer than 253/],
    ["acme.example.com", /names under example\.com are the tenants' own names/],
    ["example.com", /tenants' own names/],
  ])("refuses %j in one line (UsageError: exit 2)", (input, why) => {
    let err: unknown;
    try {
      requireCustomHostname(input, "example.com");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).not.toContain("\n");
  });
});

/** A resolver answering from a table: CNAME, A/AAAA and TXT per name; anything else has no record. */
function table(records: Record<string, { cname?: string[]; a?: string[]; txt?: string[] }>): DnsLookup & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    cname: async (h) => (asked.push(`CNAME ${h}`), records[h]?.cname ?? []),
    addresses: async (h) => (asked.push(`A ${h}`), records[h]?.a ?? []),
    txt: async (h) => (asked.push(`TXT ${h}`), records[h]?.txt ?? []),
  };
}

describe("checkDomainDns: the hostname must be proven the tenant's", () => {
  const tenant = { id: 7, slug: "acme", domain: "example.com" };
  const token = domainChallengeToken(tenant, "app.customer.com");
  // every tenant's name resolves to the same shared edge addresses (the wildcard record)
  const edge = { "acme.example.com": { a: ["203.0.113.10", "2001:db8::10"] }, "beta.example.com": { a: ["203.0.113.10", "2001:db8::10"] } };

  it("accepts a CNAME to the tenant's own name (with or without the trailing dot, any case), with no TXT record", async () => {
    const v = await checkDomainDns("app.customer.com", tenant, table({ ...edge, "app.customer.com": { cname: ["ACME.example.com."], a: ["203.0.113.10"] } }));
    expect(v).toEqual({ ok: true, via: "cname", detail: "CNAME acme.example.com" });
  });

  it("refuses a CNAME to another tenant's name in one line, though it leads to the same edge addresses", async () => {
    const dns = table({ ...edge, "app.customer.com": { cname: ["beta.example.com"], a: ["203.0.113.10", "2001:db8::10"] }, "_btw-challenge.app.customer.com": { txt: [token] } });
    const v = await checkDomainDns("app.customer.com", tenant, dns);
    expect(v).toEqual({ ok: false, reason: "app.customer.com is a CNAME to beta.example.com, a platform name that is not acme's: point the CNAME at acme.example.com" });
  });

  it("refuses an address match without the TXT record, saying which record to add and its token", async () => {
    const dns = table({ ...edge, "app.customer.com": { a: ["203.0.113.10", "2001:db8::10"] } });
    const v = await checkDomainDns("app.customer.com", tenant, dns);
    expect(v).toEqual({
      ok: false,
      reason: `app.customer.com resolves to the edge, but an address does not prove it is acme's: add the TXT record _btw-challenge.app.customer.com "${token}" (or point a CNAME at acme.example.com), or pass --skip-dns-check`,
    });
    expect(dns.asked).toContain("TXT _btw-challenge.app.customer.com");
  });

  it("accepts an address match (A/AAAA equal to the edge's, any case) with the right TXT token", async () => {
    const dns = table({ ...edge, "app.customer.com": { a: ["203.0.113.10", "2001:DB8::10"] }, "_btw-challenge.app.customer.com": { txt: ["some-other-verification=1", token] } });
    expect(await checkDomainDns("app.customer.com", tenant, dns)).toEqual({ ok: true, via: "address", detail: "addresses 2001:DB8::10, 203.0.113.10; TXT _btw-challenge.app.customer.com" });
  });

  it("refuses an address match whose TXT holds another token (another tenant's, or another domain's)", async () => {
    for (const wrong of [domainChallengeToken({ ...tenant, id: 8 }, "app.customer.com"), domainChallengeToken(tenant, "www.customer.com")]) {
      const dns = table({ ...edge, "app.customer.com": { a: ["203.0.113.10"] }, "_btw-challenge.app.customer.com": { txt: [wrong] } });
      const v = await checkDomainDns("app.customer.com", tenant, dns);
      expect(v).toEqual({
        ok: false,
        reason: `app.customer.com resolves to the edge, but TXT _btw-challenge.app.customer.com does not hold acme's token: set it to "${token}" (or point a CNAME at acme.example.com), or pass --skip-dns-check`,
      });
    }
  });

  it("the token is stable for one tenant and one domain, and differs per tenant id, per domain and per platform", () => {
    expect(domainChallengeToken(tenant, "app.customer.com")).toBe(token);
    expect(token).toMatch(/^btw-[0-9a-f]{32}$/);
    const others = [
      domainChallengeToken({ ...tenant, id: 8 }, "app.customer.com"), // a later tenant of the same name
      domainChallengeToken(tenant, "www.customer.com"),
      domainChallengeToken({ ...tenant, domain: "example.net" }, "app.customer.com"),
    ];
    expect(new Set([token, ...others]).size).toBe(4);
  });

  it("accepts the extra edge addresses it is given (with the TXT token)", async () => {
    const dns = table({ "app.customer.com": { a: ["198.51.100.4"] }, "_btw-challenge.app.customer.com": { txt: [token] } });
    expect((await checkDomainDns("app.customer.com", tenant, dns, ["198.51.100.4"])).ok).toBe(true);
  });

  it("refuses a CNAME elsewhere that leads off the edge, naming both ways to set it", async () => {
    const dns = table({ "app.customer.com": { cname: ["shop.hoster.net"], a: ["203.0.113.99"] }, "acme.example.com": { a: ["203.0.113.10"] } });
    const v = await checkDomainDns("app.customer.com", tenant, dns);
    expect(v).toEqual({
      ok: false,
      reason: `app.customer.com resolves to 203.0.113.99 (CNAME shop.hoster.net), not to the edge: point it at acme.example.com (CNAME), or at 203.0.113.10 (A/AAAA) with the TXT record _btw-challenge.app.customer.com "${token}", or pass --skip-dns-check`,
    });
  });

  it("refuses a name with one address elsewhere among the edge's", async () => {
    const dns = table({ "app.customer.com": { a: ["203.0.113.10", "192.0.2.1"] }, "acme.example.com": { a: ["203.0.113.10"] }, "_btw-challenge.app.customer.com": { txt: [token] } });
    expect((await checkDomainDns("app.customer.com", tenant, dns)).ok).toBe(false);
  });

  it("refuses a name that does not resolve", async () => {
    const v = await checkDomainDns("app.customer.com", tenant, table({ "acme.example.com": { a: ["203.0.113.10"] } }));
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/^app\.customer\.com does not resolve: point it at acme\.example\.com/);
  });
});

describe("BTW_DNS_SERVERS", () => {
  it("takes ip, ip:port and [ipv6]:port; empty means the system's resolvers", () => {
    expect(dnsServersFrom({})).toEqual([]);
    expect(dnsServersFrom({ BTW_DNS_SERVERS: "127.0.0.1:5353, 9.9.9.9,[::1]:53" })).toEqual(["127.0.0.1:5353", "9.9.9.9", "[::1]:53"]);
  });
  it("refuses a name (no lookup to find the lookup server)", () => {
    expect(() => dnsServersFrom({ BTW_DNS_SERVERS: "dns.example.com" })).toThrow(/is not an address/);
  });
});

describe("routes of a custom domain", () => {
  it("the edge table serves it in the tenant's site, to the tenant's server", () => {
    const text = renderEdgeCaddyfile({
      domain: "example.com",
      trustedProxies: ["10.0.0.0/16"],
      routes: [
        { slug: "acme", server: "btw-1", upstream: "10.0.1.2", extraHosts: ["www.acme.io", "app.customer.com"] },
        { slug: "beta", server: "btw-2", upstream: "10.0.1.3" },
      ],
    });
    expect(text).toContain("http://acme.example.com, http://app.customer.com, http://www.acme.io {");
    expect(text).toContain("http://beta.example.com {");
  });

  it("the edge table refuses one hostname on two tenants", () => {
    expect(() =>
      renderEdgeCaddyfile({
        domain: "example.com",
        trustedProxies: [],
        routes: [
          { slug: "acme", server: "a", upstream: "10.0.1.2", extraHosts: ["app.customer.com"] },
          { slug: "beta", server: "b", upstream: "10.0.1.3", extraHosts: ["app.customer.com"] },
        ],
      }),
    ).toThrow(/host app\.customer\.com is routed to both acme and beta/);
  });

  it("a server's proxy lists it in the site (tls auto: Caddy obtains its certificate), active and suspended", () => {
    const auto = renderCaddyfile({ tls: "auto", domain: "example.com", tenants: [{ slug: "acme", status: "active", extraHosts: ["www.acme.io", "app.customer.com"] }] });
    expect(auto).toContain("acme.example.com, app.customer.com, www.acme.io {");
    const off = renderCaddyfile({ tls: "off", domain: "example.com", tenants: [{ slug: "acme", status: "suspended", extraHosts: ["app.customer.com"] }] });
    expect(off).toContain("http://acme.example.com, http://app.customer.com {\n\timport maintenance\n}");
  });

  it("a server's proxy refuses a custom domain that is another tenant's name, or not a DNS name", () => {
    expect(() => renderCaddyfile({ tls: "off", domain: "example.com", tenants: [{ slug: "acme", status: "active" }, { slug: "beta", status: "active", extraHosts: ["acme.example.com"] }] })).toThrow(
      /routed to both acme and beta/,
    );
    expect(() => renderCaddyfile({ tls: "off", domain: "example.com", tenants: [{ slug: "acme", status: "active", extraHosts: ["a b.com {"] }] })).toThrow(/not a DNS name/);
  });

  it("without custom domains, a server's Caddyfile is unchanged", () => {
    const base = { tls: "auto" as const, domain: "example.com" };
    expect(renderCaddyfile({ ...base, tenants: [{ slug: "acme", status: "active", extraHosts: [] }] })).toBe(renderCaddyfile({ ...base, tenants: [{ slug: "acme", status: "active" }] }));
  });
});

describe("WEBHOOK_URL", () => {
  it("is the tenant's own URL by default and the custom domain's when one is chosen", () => {
    expect(tenantEnvValues(envInput()).WEBHOOK_URL).toBe("https://acme.example.com/");
    const v = tenantEnvValues(envInput({ webhookHost: "app.customer.com" }));
    expect(v.WEBHOOK_URL).toBe("https://app.customer.com/");
    // the editor stays on the tenant's own name
    expect(v.N8N_HOST).toBe("acme.example.com");
    expect(tenantEnvValues(envInput({ webhookHost: null })).WEBHOOK_URL).toBe("https://acme.example.com/");
  });
  it("refuses a webhook host that is not a DNS name (it is written into .env)", () => {
    expect(() => tenantEnvValues(envInput({ webhookHost: "x.com\nN8N_HOST=evil" }))).toThrow(/not a DNS name/);
  });
});
