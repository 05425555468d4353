// node:dns through BTW_DNS_SERVERS, against a local fake DNS server: CNAME, A and AAAA as
// answered, and "no such name" / "no such record" as empty lists (the check decides).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDomainDns } from "../../../src/core/edge/domains.js";
import { dnsLookup, dnsServersFrom } from "../../../src/remote/dns.js";
import { startFakeDns } from "../../support/fake-dns.js";

let dns: Awaited<ReturnType<typeof startFakeDns>>;
beforeAll(async () => {
  dns = await startFakeDns({
    "app.customer.com": { cname: "acme.example.com" },
    "acme.example.com": { a: ["203.0.113.10"], aaaa: ["2001:db8::10"] },
    "bare.customer.com": { a: ["203.0.113.10"] },
  });
});
afterAll(() => dns?.close());

describe("dnsLookup with BTW_DNS_SERVERS", () => {
  it("asks the configured server", async () => {
    const lookup = dnsLookup(dnsServersFrom({ BTW_DNS_SERVERS: dns.address }));
    expect(await lookup.cname("app.customer.com")).toEqual(["acme.example.com"]);
    expect((await lookup.addresses("acme.example.com")).sort()).toEqual(["2001:db8::10", "203.0.113.10"]);
    expect(await lookup.addresses("bare.customer.com")).toEqual(["203.0.113.10"]);
  });

  it("answers empty for a missing name or record", async () => {
    const lookup = dnsLookup([dns.address]);
    expect(await lookup.cname("bare.customer.com")).toEqual([]);
    expect(await lookup.addresses("nowhere.customer.com")).toEqual([]);
  });

  it("feeds the check: a CNAME to the tenant and an A record on the edge both pass", async () => {
    const lookup = dnsLookup([dns.address]);
    expect(await checkDomainDns("app.customer.com", { slug: "acme", domain: "example.com" }, lookup)).toMatchObject({ ok: true, via: "cname" });
    expect(await checkDomainDns("bare.customer.com", { slug: "acme", domain: "example.com" }, lookup)).toMatchObject({ ok: true, via: "address" });
    expect(await checkDomainDns("nowhere.customer.com", { slug: "acme", domain: "example.com" }, lookup)).toMatchObject({ ok: false });
  });
});
