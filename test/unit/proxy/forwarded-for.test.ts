// Whose X-Forwarded-For reaches n8n. n8n trusts one hop (N8N_PROXY_HOPS=1): the client it
// sees is the last entry of the header its proxy sends, and a Webhook node's IP allow-list
// and the per-IP login throttling rest on it. So each proxy keeps the incoming X-Forwarded-*
// of the proxies in front of it only (the server's proxy: the edge proxies; an edge proxy:
// the load balancer) and replaces everyone else's with the address they connect from.
//
// The rendered sites line by line, then both proxies run in a real Caddy (BTW_CADDY_BIN) on
// loopback in front of a stand-in for n8n that echoes what it received. Loopback addresses
// play the machines: the client's source address is chosen per request (localAddress), and
// Caddy's own requests (edge → server) come from 127.0.0.1.
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderEdgeCaddyfile } from "../../../src/core/edge/caddyfile.js";
import { renderCaddyfile } from "../../../src/core/proxy/caddyfile.js";
import { findCaddy, runCaddy as startCaddy } from "../tenant/external-tools.js";

/** The tail every reverse_proxy of both files shares. */
const proxyTail = ["\t\tlb_try_duration 5s", "\t\ttransport http {", "\t\t\tdial_timeout 3s", "\t\t}", "\t}"];
const edgeTail = ["\t\tlb_try_duration 20s", ...proxyTail.slice(1)];

const siteOf = (text: string, head: string): string => {
  const at = text.indexOf(`${head} {\n`);
  expect(at, `no site ${head}`).toBeGreaterThanOrEqual(0);
  return text.slice(at, text.indexOf("\n}\n", at) + 2);
};

describe("the rendered sites", () => {
  it("direct mode: one reverse_proxy trusting nobody (Caddy sets X-Forwarded-For to the visitor's address)", () => {
    const text = renderCaddyfile({ tls: "auto", domain: "example.com", tenants: [{ slug: "acme", status: "active" }] });
    expect(siteOf(text, "acme.example.com")).toBe(
      ["acme.example.com {", "\ttls {", "\t\tprotocols tls1.2 tls1.3", "\t}", "\t@platform host acme.example.com", '\theader @platform Strict-Transport-Security "max-age=31536000"', "\t@internal path /metrics /metrics/*", '\trespond @internal "Not found" 404', "\treverse_proxy n8n-acme:5678 {", ...proxyTail, "}"].join("\n"),
    );
    expect(text).not.toContain("trusted_proxies");
    expect(text).not.toContain("X-Forwarded-For");
  });

  it("behind the edge: the edge proxies' requests keep their header; every other peer's is replaced", () => {
    const text = renderCaddyfile({ tls: "off", domain: "example.com", tenants: [{ slug: "acme", status: "active" }], trustedProxies: ["10.0.1.3/32", "10.0.1.4/32"] });
    expect(siteOf(text, "http://acme.example.com")).toBe(
      [
        "http://acme.example.com {",
        "\t@internal path /metrics /metrics/*",
        '\trespond @internal "Not found" 404',
        "\t@trusted remote_ip 10.0.1.3/32 10.0.1.4/32",
        "\treverse_proxy @trusted n8n-acme:5678 {",
        "\t\ttrusted_proxies 10.0.1.3/32 10.0.1.4/32",
        "\t\theader_up X-Forwarded-For {http.request.header.X-Forwarded-For}",
        ...proxyTail,
        "\treverse_proxy n8n-acme:5678 {",
        ...proxyTail,
        "}",
      ].join("\n"),
    );
  });

  it("while the fleet moves to the edge: the public HTTPS site and its plain-HTTP twin both trust the edge proxies only", () => {
    const text = renderCaddyfile({ tls: "auto", domain: "example.com", tenants: [{ slug: "acme", status: "active" }], trustedProxies: ["10.0.1.3/32"], edgePlainHttp: true });
    for (const head of ["acme.example.com", "http://acme.example.com"]) {
      const site = siteOf(text, head);
      expect(site).toContain("\t@trusted remote_ip 10.0.1.3/32\n\treverse_proxy @trusted n8n-acme:5678 {\n\t\ttrusted_proxies 10.0.1.3/32\n");
      expect(site).toContain("\treverse_proxy n8n-acme:5678 {\n\t\tlb_try_duration 5s");
    }
  });

  it("an edge proxy: the load balancer's requests keep their header; every other peer's is replaced", () => {
    const text = renderEdgeCaddyfile({ domain: "example.com", trustedProxies: ["10.0.1.2/32"], routes: [{ slug: "acme", server: "btw-1", upstream: "10.0.1.11" }] });
    expect(siteOf(text, "http://acme.example.com")).toBe(
      [
        "http://acme.example.com {",
        "\t@platform host acme.example.com",
        '\theader @platform Strict-Transport-Security "max-age=31536000"',
        "\t@internal path /metrics /metrics/*",
        '\trespond @internal "Not found" 404',
        "\t@trusted remote_ip 10.0.1.2/32",
        "\treverse_proxy @trusted 10.0.1.11:80 {",
        "\t\ttrusted_proxies 10.0.1.2/32",
        "\t\theader_up X-Forwarded-For {http.request.header.X-Forwarded-For}",
        ...edgeTail,
        "\treverse_proxy 10.0.1.11:80 {",
        ...edgeTail,
        "}",
      ].join("\n"),
    );
  });

  it("an edge proxy that terminates TLS itself (edge.tls internal) trusts nobody", () => {
    const text = renderEdgeCaddyfile({ domain: "example.com", trustedProxies: [], tls: "internal", routes: [{ slug: "acme", server: "btw-1", upstream: "10.0.1.11" }] });
    expect(siteOf(text, "https://acme.example.com")).toBe(
      ["https://acme.example.com {", "\ttls internal {", "\t\tprotocols tls1.2 tls1.3", "\t}", "\t@platform host acme.example.com", '\theader @platform Strict-Transport-Security "max-age=31536000"', "\t@internal path /metrics /metrics/*", '\trespond @internal "Not found" 404', "\treverse_proxy 10.0.1.11:80 {", ...edgeTail, "}"].join("\n"),
    );
  });
});

const caddyBin = findCaddy();
const dirs: string[] = [];
const children: ChildProcess[] = [];
let n8n: Server;
let n8nPort = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Seen {
  status: number;
  /** the X-Forwarded-For n8n received */
  for: string | null;
  proto: string | null;
}

/** GET `host` at 127.0.0.1:port from the source address `from`, with `headers`; what n8n received. */
function send(port: number, host: string, from: string, headers: Record<string, string> = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/webhook/x", localAddress: from, headers: { host, ...headers }, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ...(res.statusCode === 200 ? (JSON.parse(body) as { for: string | null; proto: string | null }) : { for: null, proto: null }) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The client n8n's N8N_PROXY_HOPS=1 takes: the header's last entry. */
const n8nClient = (xff: string | null): string | undefined => xff?.split(",").at(-1)?.trim();

/** Runs Caddy on `text` with HTTP on `port`; resolves once it answers (external-tools.ts). */
async function runCaddy(text: string, port: number): Promise<void> {
  const { dir, child } = await startCaddy(caddyBin as string, text, port, () => send(port, "probe.invalid", "127.0.0.1"));
  dirs.push(dir);
  children.push(child);
}

// the machines, as loopback addresses
const VISITOR = "127.0.0.3";
const LOAD_BALANCER = "127.0.0.2";
/** another machine on the private network: a tenant's container on another server, say */
const NEIGHBOUR = "127.0.0.5";
/** an edge proxy's requests to a server: Caddy dials 127.0.0.1 from 127.0.0.1 */
const EDGE = "127.0.0.1";
const FORGED = "203.0.113.66";
const REAL_VISITOR = "198.51.100.9";

describe("X-Forwarded-For through a real Caddy", () => {
  let direct = 0;
  let server = 0;
  let edge = 0;
  beforeAll(async () => {
    // never skipped: `npm test` extracts the tool from the lab images (scripts/tool-binaries.sh)
    if (caddyBin === null) throw new Error("Caddy (BTW_CADDY_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
    n8n = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ for: req.headers["x-forwarded-for"] ?? null, proto: req.headers["x-forwarded-proto"] ?? null }));
    });
    await new Promise<void>((r) => n8n.listen(0, "127.0.0.1", () => r()));
    n8nPort = (n8n.address() as { port: number }).port;
    [direct, server, edge] = [await freePort(), await freePort(), await freePort()];
    const tenants = [{ slug: "acme", status: "active" as const }];
    const toN8n = (text: string) => text.replaceAll("n8n-acme:5678", `127.0.0.1:${n8nPort}`);
    await Promise.all([
      runCaddy(toN8n(renderCaddyfile({ tls: "off", domain: "lab.test", tenants })), direct),
      runCaddy(toN8n(renderCaddyfile({ tls: "off", domain: "lab.test", tenants, trustedProxies: [`${EDGE}/32`] })), server),
      runCaddy(
        renderEdgeCaddyfile({ domain: "lab.test", trustedProxies: [`${LOAD_BALANCER}/32`], routes: [{ slug: "acme", server: "lab-1", upstream: "127.0.0.1" }] }).replaceAll(
          "127.0.0.1:80 ",
          `127.0.0.1:${server} `,
        ),
        edge,
      ),
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGTERM");
    await new Promise<void>((r) => (n8n ? n8n.close(() => r()) : r()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("direct mode: a visitor's forged header is replaced by its address", async () => {
    expect(await send(direct, "acme.lab.test", VISITOR, { "x-forwarded-for": FORGED, "x-forwarded-proto": "https" })).toEqual({ status: 200, for: VISITOR, proto: "http" });
  });

  it("a server's proxy behind the edge: a peer that is not an edge proxy cannot forge the client", async () => {
    expect(await send(server, "acme.lab.test", NEIGHBOUR, { "x-forwarded-for": FORGED, "x-forwarded-proto": "https" })).toEqual({ status: 200, for: NEIGHBOUR, proto: "http" });
  });

  it("a server's proxy behind the edge: the edge proxy's header passes on as it came (n8n sees the visitor and https)", async () => {
    expect(await send(server, "acme.lab.test", EDGE, { "x-forwarded-for": REAL_VISITOR, "x-forwarded-proto": "https" })).toEqual({ status: 200, for: REAL_VISITOR, proto: "https" });
  });

  it("load balancer → edge → server → n8n: n8n sees the visitor the load balancer saw", async () => {
    expect(await send(edge, "acme.lab.test", LOAD_BALANCER, { "x-forwarded-for": REAL_VISITOR, "x-forwarded-proto": "https" })).toEqual({ status: 200, for: REAL_VISITOR, proto: "https" });
    // a load balancer that appends to what the visitor sent: n8n's one hop still lands on the visitor
    const appended = await send(edge, "acme.lab.test", LOAD_BALANCER, { "x-forwarded-for": `${FORGED}, ${REAL_VISITOR}`, "x-forwarded-proto": "https" });
    expect(n8nClient(appended.for)).toBe(REAL_VISITOR);
  });

  it("a visitor that reaches the edge proxy around the load balancer cannot forge the client", async () => {
    const seen = await send(edge, "acme.lab.test", VISITOR, { "x-forwarded-for": FORGED, "x-forwarded-proto": "https" });
    expect(seen).toEqual({ status: 200, for: VISITOR, proto: "http" });
    expect(n8nClient(seen.for)).toBe(VISITOR);
  });
});
