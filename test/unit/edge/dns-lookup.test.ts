// node:dns through BTW_DNS_SERVERS, against a local fake DNS server: CNAME, A and AAAA as
// answered, and "no such name" / "no such record" as empty lists (the check decides).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDomainDns, domainChallengeToken } from "../../../src/core/edge/domains.js";
import { dnsLookup, dnsServersFrom } from "../../../src/remote/dns.js";
import { startFakeDns } from "../../support/fake-dns.js";

const acme = { id: 1, slug: "acme", domain: "example.com" };
const token = domainChallengeToken(acme, "bare.customer.com");
let dns: Awaited<ReturnType<typeof startFakeDns>>;
beforeAll(async () => {
  dns = await startFakeDns({
    "app.customer.com": { cname: "acme.example.com" },
    "acme.example.com": { a: ["203.0.113.10"], aaaa: ["2001:db8::10"] },
    "bare.customer.com": { a: ["203.0.113.10"] },
    "_btw-challenge.bare.customer.com": { txt: ["v=spf1 -all", token] },
    "long.customer.com": { txt: ["x".repeat(300)] },
    "unproven.customer.com": { a: ["203.0.113.10"] },
  });
});
afterAll(() => dns?.close());

describe("dnsLookup with BTW_DNS_SERVERS", () => {
  it("asks the configured server", async () => {
    const lookup = dnsLookup(dnsServersFrom({ BTW_DNS_SERVERS: dns.address }));
    expect(await lookup.cname("app.customer.com")).toEqual(["acme.example.com"]);
    expect((await lookup.addresses("acme.example.com")).sort()).toEqual(["2001:db8::10", "203.0.113.10"]);
    expect(await lookup.addresses("bare.customer.com")).toEqual(["203.0.113.10"]);
    expect((await lookup.txt("_btw-challenge.bare.customer.com")).sort()).toEqual([token, "v=spf1 -all"]);
    // a value longer than one TXT string (255 bytes) comes back whole
    expect(await lookup.txt("long.customer.com")).toEqual(["x".repeat(300)]);
  });

  it("answers empty for a missing name or record", async () => {
    const lookup = dnsLookup([dns.address]);
    expect(await lookup.cname("bare.customer.com")).toEqual([]);
    expect(await lookup.addresses("nowhere.customer.com")).toEqual([]);
    expect(await lookup.txt("_btw-challenge.app.customer.com")).toEqual([]);
  });

  it("feeds the check: a CNAME to the tenant passes, an A record on the edge passes with the TXT token and not without", async () => {
    const lookup = dnsLookup([dns.address]);
    expect(await checkDomainDns("app.customer.com", acme, lookup)).toMatchObject({ ok: true, via: "cname" });
    expect(await checkDomainDns("bare.customer.com", acme, lookup)).toMatchObject({ ok: true, via: "address" });
    expect(await checkDomainDns("unproven.customer.com", acme, lookup)).toMatchObject({ ok: false, reason: expect.stringContaining("_btw-challenge.unproven.customer.com") });
    expect(await checkDomainDns("nowhere.customer.com", acme, lookup)).toMatchObject({ ok: false });
  });
});
