import { describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { edgeTrustedProxies, serverProxyTls } from "../../../src/core/edge/mode.js";

// Whose X-Forwarded-* headers each proxy keeps, from the config: a server's proxy keeps the
// edge proxies' only (not the whole private network: a tenant's n8n on another server sends
// from that network too), an edge proxy the load balancer's only, and nobody else's.
const config = (raw: Record<string, unknown>) =>
  configSchema.parse({ domain: "example.com", hetzner: { networkRange: "10.0.0.0/16", subnetRange: "10.0.1.0/24" }, ...raw });

describe("the proxies each proxy trusts", () => {
  it("direct mode: a server's proxy trusts nobody", () => {
    expect(serverProxyTls(config({})).trustedProxies).toBeUndefined();
  });

  it("behind the edge: a server's proxy trusts the stack's edge proxies (.3 up, one per edge server), not the private network", () => {
    expect(serverProxyTls(config({ proxy: { mode: "edge" }, edge: { servers: 3 } }))).toEqual({ tls: "off", trustedProxies: ["10.0.1.3/32", "10.0.1.4/32", "10.0.1.5/32"] });
  });

  it("while the fleet moves to the edge: the same edge proxies, on the public sites and their plain-HTTP twins", () => {
    expect(serverProxyTls(config({ proxy: { mode: "edge" }, edge: { switch: "dns" } }))).toMatchObject({ tls: "auto", trustedProxies: ["10.0.1.3/32", "10.0.1.4/32"], edgePlainHttp: true });
  });

  it("a hand-run edge (edge.proxies): each proxy's privateIp; one without is trusted by nobody", () => {
    const proxies = [
      { name: "edge-a", host: "192.0.2.10", privateIp: "10.29.1.20" },
      { name: "edge-b", host: "edge-b.example.net" },
      { name: "edge-c", host: "192.0.2.12", privateIp: "fd00::12" },
    ];
    expect(serverProxyTls(config({ proxy: { mode: "edge" }, edge: { proxies } })).trustedProxies).toEqual(["10.29.1.20/32", "fd00::12/128"]);
  });

  it("edge.proxies refuses a privateIp that is not an address", () => {
    expect(() => config({ edge: { proxies: [{ name: "e", host: "192.0.2.10", privateIp: "10.0.0.0/16" }] } })).toThrow();
    expect(() => config({ edge: { proxies: [{ name: "e", host: "192.0.2.10", privateIp: "10.0.1.3 }" }] } })).toThrow();
  });

  it("an edge proxy trusts the load balancer's private address (.2) only; terminating TLS itself, nobody", () => {
    expect(edgeTrustedProxies(config({ proxy: { mode: "edge" } }))).toEqual(["10.0.1.2/32"]);
    expect(edgeTrustedProxies(config({ proxy: { mode: "edge" }, edge: { tls: "internal", proxies: [{ name: "e", host: "192.0.2.10" }] } }))).toEqual([]);
  });
});
