// Nothing internal is public: the per-server proxy (direct mode) and the edge proxy, run in
// a real Caddy (BTW_CADDY_BIN) on loopback ports, refuse n8n's /metrics on their public
// sites while the server's private metrics listener still serves it; the edge routes a host
// to its server's address with the Host header intact and answers the load balancer's
// health check. The rendered files are used as they are, except: admin off, HTTP on a free
// port, and upstream addresses pointed at a local stand-in for n8n / the server.
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EDGE_HEALTH_PATH, renderEdgeCaddyfile } from "../../../src/core/edge/caddyfile.js";
import { renderCaddyfile } from "../../../src/core/proxy/caddyfile.js";
import { findCaddy, runCaddy as startCaddy } from "../tenant/external-tools.js";

const caddyBin = findCaddy();
const dirs: string[] = [];
const children: ChildProcess[] = [];
let upstream: Server;
let upstreamPort = 0;

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

/** The server's metrics token, as Prometheus presents it. */
const TOKEN = "0123456789abcdef".repeat(4);
const BEARER = { authorization: `Bearer ${TOKEN}` };

function get(port: number, host: string, path: string, o: { headers?: Record<string, string>; from?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host, ...o.headers }, ...(o.from ? { localAddress: o.from } : {}), timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Runs Caddy on `text` with HTTP on `port`; resolves once it answers (external-tools.ts). */
async function runCaddy(text: string, port: number): Promise<void> {
  const { dir, child } = await startCaddy(caddyBin as string, text, port, () => get(port, "probe.invalid", "/"));
  dirs.push(dir);
  children.push(child);
}

beforeAll(async () => {
  // never skipped: `npm test` extracts the tool from the lab images (scripts/tool-binaries.sh)
  if (caddyBin === null) throw new Error("Caddy (BTW_CADDY_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
  // stands in for n8n (direct mode) and for a tenant server's proxy (edge): echoes what it got
  upstream = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    if (req.url === "/forwarded") return void res.end(`proto=${req.headers["x-forwarded-proto"]} for=${req.headers["x-forwarded-for"]}`);
    // the metrics token must stop at the proxy: a tenant's n8n never sees it
    if (req.headers.authorization) return void res.end(`LEAKED authorization=${req.headers.authorization}`);
    res.end(`upstream host=${req.headers.host} path=${req.url}`);
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  upstreamPort = (upstream.address() as { port: number }).port;
});

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the metrics listener: the server's token from everyone, and the tenants' pool refused but for the edge gateways (Prometheus on a server that runs tenants)", () => {
  // loopback stands in for the tenants' pool: 127.0.0.1 plays a gateway (allowed), 127.0.0.7
  // a tenant's n8n (denied), 127.0.0.5 plays nobody in particular
  let metrics = 0;
  beforeAll(async () => {
    const web = await freePort();
    metrics = await freePort();
    const text = renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }], metrics: { port: metrics, token: TOKEN, denyFrom: ["127.0.0.0/29"], allowFrom: ["127.0.0.1/32"] } });
    await runCaddy(text.replaceAll("n8n-acme:5678", `127.0.0.1:${upstreamPort}`), web);
  }, 30_000);

  it("serves Prometheus' request with the token from a gateway address inside the pool, and the token goes no further", async () => {
    expect(await get(metrics, "10.0.1.11", "/tenants/acme/metrics", { headers: BEARER, from: "127.0.0.1" })).toEqual({ status: 200, body: "upstream host=10.0.1.11 path=/metrics" });
  });

  it("refuses a gateway address without the token, or with another one: the address proves nothing (a tenant's request arrives from one too)", async () => {
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${"f".repeat(64)}` }, { authorization: `bearer ${TOKEN}` }, { authorization: TOKEN }]) {
      expect(await get(metrics, "10.0.1.11", "/tenants/acme/metrics", { headers, from: "127.0.0.1" })).toEqual({ status: 401, body: "Unauthorized" });
    }
  });

  it("refuses the rest of the pool even with the token", async () => {
    expect(await get(metrics, "10.0.1.11", "/tenants/acme/metrics", { headers: BEARER, from: "127.0.0.7" })).toEqual({ status: 403, body: "Forbidden" });
  });

  it("answers other paths 401 to everyone, token or not: a tenant's path is told from a missing one by nobody without a token", async () => {
    // each btw state's file carries its own tenants' paths with its own token; the main file's
    // rest of the listener holds no token to tell a holder from anyone else
    expect(await get(metrics, "10.0.1.11", "/tenants/beta/metrics", { headers: BEARER, from: "127.0.0.9" })).toEqual({ status: 401, body: "Unauthorized" });
    expect(await get(metrics, "10.0.1.11", "/tenants/beta/metrics", { from: "127.0.0.9" })).toEqual({ status: 401, body: "Unauthorized" });
    expect(await get(metrics, "10.0.1.11", "/tenants/acme/metrics", { from: "127.0.0.9" })).toEqual({ status: 401, body: "Unauthorized" });
  });
});

describe("a server's proxy (direct mode, tls off as in the lab)", () => {
  let web = 0;
  let metrics = 0;
  beforeAll(async () => {
    [web, metrics] = [await freePort(), await freePort()];
    const text = renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }], metrics: { port: metrics, token: TOKEN, denyFrom: ["10.220.0.0/16"] } });
    await runCaddy(text.replaceAll("n8n-acme:5678", `127.0.0.1:${upstreamPort}`), web);
  }, 30_000);

  it("refuses /metrics (and below) on the tenant's public site, with Caddy's 404", async () => {
    for (const path of ["/metrics", "/metrics/", "/metrics/anything"]) {
      const r = await get(web, "acme.lab.test", path);
      expect([path, r.status, r.body]).toEqual([path, 404, "Not found"]);
    }
  });

  it("still routes the rest, /healthz included, to n8n", async () => {
    expect(await get(web, "acme.lab.test", "/healthz")).toEqual({ status: 200, body: "upstream host=acme.lab.test path=/healthz" });
    expect((await get(web, "acme.lab.test", "/rest/settings")).status).toBe(200);
    // a prefix that only looks like it stays n8n's
    expect((await get(web, "acme.lab.test", "/metricsx")).status).toBe(200);
  });

  it("the private metrics listener still serves the tenant's n8n /metrics", async () => {
    expect(await get(metrics, "10.0.1.11", "/tenants/acme/metrics", { headers: BEARER })).toEqual({ status: 200, body: "upstream host=10.0.1.11 path=/metrics" });
  });
});

describe("an edge proxy", () => {
  let web = 0;
  beforeAll(async () => {
    web = await freePort();
    const text = renderEdgeCaddyfile({
      domain: "example.com",
      // loopback plays the load balancer's private address here
      trustedProxies: ["127.0.0.0/8"],
      routes: [{ slug: "acme", server: "btw-1", upstream: "127.0.0.1", extraHosts: ["automation.acme.test"] }],
    });
    await runCaddy(text.replaceAll("127.0.0.1:80 ", `127.0.0.1:${upstreamPort} `), web);
  }, 30_000);

  it("routes the tenant's host and its custom domain to its server, Host unchanged", async () => {
    expect(await get(web, "acme.example.com", "/workflow/1")).toEqual({ status: 200, body: "upstream host=acme.example.com path=/workflow/1" });
    expect(await get(web, "automation.acme.test", "/")).toEqual({ status: 200, body: "upstream host=automation.acme.test path=/" });
  });

  it("passes the load balancer's X-Forwarded-Proto and -For on unchanged: n8n (one trusted hop) sees the visitor and https", async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: web, path: "/forwarded", headers: { host: "acme.example.com", "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.9" } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.end();
    });
    expect(r).toBe("proto=https for=198.51.100.9");
  });

  it("refuses /metrics before it reaches any server", async () => {
    expect(await get(web, "acme.example.com", "/metrics")).toEqual({ status: 404, body: "Not found" });
  });

  it("answers the load balancer's health check, and 404 for unknown hosts", async () => {
    expect(await get(web, "10.0.1.3", EDGE_HEALTH_PATH)).toEqual({ status: 200, body: "ok" });
    expect(await get(web, "other.example.com", "/")).toEqual({ status: 404, body: "Not found" });
  });
});
