import { describe, expect, it } from "vitest";
import {
  describeRouteAnswer,
  isHealthyRoute,
  NO_ROUTE_RESULT,
  parseRouteProbe,
  ROUTE_PROBE_SCRIPT,
  routeProbe,
  tenantRoute,
  type RouteAnswer,
} from "../../../../src/core/commands/route-probe.js";
import { edgeRouteProbeTarget, serverRouteProbeTarget } from "../../../../src/core/edge/mode.js";
import { shellJoin } from "../../../../src/core/shell.js";
import { configSchema } from "../../../../src/config/schema.js";

describe("routeProbe: one remote command asking the proxy for every host name", () => {
  it("is the constant script with every value an argument after it", () => {
    expect(routeProbe({ scheme: "http", port: 80, address: "127.0.0.1" }, ["acme.example.com", "shop.acme.test"])).toEqual([
      "sh",
      "-c",
      ROUTE_PROBE_SCRIPT,
      "sh",
      "http",
      "127.0.0.1",
      "80",
      "/healthz",
      "5",
      "16",
      "160",
      "acme.example.com",
      "shop.acme.test",
    ]);
  });

  it("brackets an IPv6 address for curl's --resolve", () => {
    expect(routeProbe({ scheme: "https", port: 443, address: "fd00::5" }, ["acme.example.com"]).slice(4, 7)).toEqual(["https", "[fd00::5]", "443"]);
  });

  it("quotes as one shell line: the script single-quoted, the values bare", () => {
    const line = shellJoin(routeProbe({ scheme: "https", port: 443, address: "10.0.1.5" }, ["acme.example.com"]));
    expect(line.startsWith("sh -c 'LC_ALL=C; export LC_ALL\n")).toBe(true);
    expect(line.endsWith(" sh https 10.0.1.5 443 /healthz 5 16 160 acme.example.com")).toBe(true);
  });

  it("pins each name to the proxy's address (Host header and SNI the tenant's), certificates unchecked, each request bounded", () => {
    expect(ROUTE_PROBE_SCRIPT).toContain('curl -ksS -o "$d/$i.b" -w "%{http_code}" -m "$m" --resolve "$h:$p:$a" "$s://$h:$p$u"');
    expect(ROUTE_PROBE_SCRIPT).toContain('[ $((i % n)) -eq 0 ] && wait');
    // no value is ever in the script's text
    expect(ROUTE_PROBE_SCRIPT).not.toMatch(/example|127\.0\.0\.1|healthz/);
  });

  it("refuses what is not a host name, address, port or scheme (nothing reaches the server)", () => {
    const t = { scheme: "http" as const, port: 80, address: "127.0.0.1" };
    expect(() => routeProbe(t, ["acme.example.com; reboot"])).toThrow(/invalid host name/);
    expect(() => routeProbe(t, ["-K/etc/passwd"])).toThrow(/invalid host name/);
    expect(() => routeProbe({ ...t, address: "localhost" }, ["acme.example.com"])).toThrow(/invalid probe address/);
    expect(() => routeProbe({ ...t, port: 0 }, ["acme.example.com"])).toThrow(/invalid probe port/);
    expect(() => routeProbe({ ...t, scheme: "ftp" as never }, ["acme.example.com"])).toThrow(/invalid probe scheme/);
  });
});

describe("where the server's proxy is asked", () => {
  const config = (raw: Record<string, unknown>) => configSchema.parse({ domain: "example.com", hetzner: { networkRange: "10.0.0.0/16", subnetRange: "10.0.1.0/24" }, ...raw });
  it("direct mode, tls off: plain HTTP on 80 at loopback", () => {
    expect(serverRouteProbeTarget(config({ proxy: { tls: "off" } }), "10.0.1.5")).toEqual({ scheme: "http", port: 80, address: "127.0.0.1" });
  });
  it("direct mode, tls auto: https on 443 at loopback (SNI from --resolve)", () => {
    expect(serverRouteProbeTarget(config({}), "10.0.1.5")).toEqual({ scheme: "https", port: 443, address: "127.0.0.1" });
  });
  it("behind the edge: plain HTTP on 80 at the private address, the only one it is published on", () => {
    const edge = config({ proxy: { mode: "edge" } });
    expect(serverRouteProbeTarget(edge, "10.0.1.5")).toEqual({ scheme: "http", port: 80, address: "10.0.1.5" });
    // no private address known: published on every address
    expect(serverRouteProbeTarget(edge, null)).toEqual({ scheme: "http", port: 80, address: "127.0.0.1" });
  });
  it("while the fleet moves to the edge: the public https sites, published on every address", () => {
    expect(serverRouteProbeTarget(config({ proxy: { mode: "edge" }, edge: { switch: "dns" } }), "10.0.1.5")).toEqual({ scheme: "https", port: 443, address: "127.0.0.1" });
  });
  it("an edge proxy: http on 80, or https on 443 where it ends TLS itself", () => {
    expect(edgeRouteProbeTarget(config({ proxy: { mode: "edge" } }))).toEqual({ scheme: "http", port: 80, address: "127.0.0.1" });
    expect(edgeRouteProbeTarget(config({ proxy: { mode: "edge" }, edge: { tls: "internal" } }))).toEqual({ scheme: "https", port: 443, address: "127.0.0.1" });
  });
});

describe("parseRouteProbe", () => {
  const hosts = ["acme.example.com", "beta.example.com", "gamma.example.com"];

  it("one answer per host asked, in that order: status, body excerpt; curl's error when nothing answered", () => {
    const out = [
      "route beta.example.com 404 0 Not found",
      'route acme.example.com 200 0 {"status":"ok"}',
      "route gamma.example.com 000 7 curl: (7) Failed to connect to gamma.example.com port 80 after 0 ms: Couldn't connect to server ",
      "",
    ].join("\n");
    expect(parseRouteProbe(out, hosts)).toEqual([
      { host: "acme.example.com", status: 200, excerpt: '{"status":"ok"}', error: null },
      { host: "beta.example.com", status: 404, excerpt: "Not found", error: null },
      { host: "gamma.example.com", status: null, excerpt: "", error: "curl: (7) Failed to connect to gamma.example.com port 80 after 0 ms: Couldn't connect to server" },
    ]);
  });

  it("an answer cut short keeps its status and says why", () => {
    expect(parseRouteProbe("route acme.example.com 200 28 curl: (28) Operation timed out after 5001 milliseconds\n", ["acme.example.com"])).toEqual([
      { host: "acme.example.com", status: 200, excerpt: "", error: "curl: (28) Operation timed out after 5001 milliseconds" },
    ]);
  });

  it("an empty body is an empty excerpt", () => {
    expect(parseRouteProbe("route acme.example.com 502 0\n", ["acme.example.com"])).toEqual([{ host: "acme.example.com", status: 502, excerpt: "", error: null }]);
  });

  it("a server without curl: every host carries the reason", () => {
    expect(parseRouteProbe("route-probe-error curl is not installed on the server\n", hosts.slice(0, 2)).map((a) => a.error)).toEqual([
      "curl is not installed on the server",
      "curl is not installed on the server",
    ]);
  });

  it("output that does not account for a host (a dead command, noise): that host has no answer", () => {
    expect(parseRouteProbe("Welcome to the server\nroute acme.example.com 200 0 ok\n", hosts.slice(0, 2))[1]).toEqual({ host: "beta.example.com", status: null, excerpt: "", error: NO_ROUTE_RESULT });
  });
});

describe("judging an answer", () => {
  const a = (o: Partial<RouteAnswer>): RouteAnswer => ({ host: "acme.example.com", status: 200, excerpt: '{"status":"ok"}', error: null, ...o });

  it("only n8n's healthz 200 is a healthy route", () => {
    expect(isHealthyRoute(a({}))).toBe(true);
    expect(isHealthyRoute(a({ status: 404, excerpt: "Not found" }))).toBe(false);
    expect(isHealthyRoute(a({ excerpt: "<html>Welcome to nginx</html>" }))).toBe(false);
    expect(isHealthyRoute(a({ status: 503, excerpt: "<!doctype html>…Temporarily unavailable" }))).toBe(false);
    expect(isHealthyRoute(a({ status: null, excerpt: "", error: "curl: (7) refused" }))).toBe(false);
  });

  it("says the status and the body, or why there was none", () => {
    expect(describeRouteAnswer(a({ status: 404, excerpt: "Not found" }))).toBe('404 "Not found"');
    expect(describeRouteAnswer(a({ status: 502, excerpt: "" }))).toBe("502");
    expect(describeRouteAnswer(a({ status: null, excerpt: "", error: "curl: (7) refused" }))).toBe("no answer: curl: (7) refused");
  });

  it("a tenant's route shows its first failing name (a custom domain too), and is ok only when every name is", () => {
    const own = a({});
    const custom = a({ host: "shop.acme.test", status: 404, excerpt: "Not found" });
    expect(tenantRoute("lab-1's proxy", [own, custom])).toEqual({ via: "lab-1's proxy", ok: false, host: "shop.acme.test", status: 404, excerpt: "Not found", error: null, hosts: [own, custom] });
    expect(tenantRoute("lab-1's proxy", [own])).toMatchObject({ ok: true, host: "acme.example.com", status: 200 });
  });
});
