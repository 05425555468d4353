// `btw status` asks each server's proxy for its tenants' /healthz with their host names, in one
// remote command per server (src/core/commands/route-probe.ts). Here that command runs for
// real — quoted by shellJoin and handed to `sh -c` as sshd hands it to the login shell, curl
// and all — against a stand-in proxy on loopback that answers by Host header (and, over TLS,
// records the SNI it was asked for). The one thing not real is the proxy.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isHealthyRoute } from "../../../src/core/commands/route-probe.js";
import { shellJoin } from "../../../src/core/shell.js";
import { probeRoutes } from "../../../src/remote/probe-server.js";

/** As the proxy answers: acme's n8n, an unknown host's catch-all, a dead upstream. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  const host = (req.headers.host ?? "").replace(/:\d+$/, "");
  if (host === "acme.example.com" && req.url === "/healthz") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  if (host === "down.example.com") return void res.writeHead(502).end();
  res.writeHead(404, { "content-type": "text/plain" }).end("Not found");
}

/** What sshd does with the argv btw sends: one command line for the login shell. */
const local = {
  async run(argv: string[]) {
    const r = await execa("sh", ["-c", shellJoin(argv)], { reject: false });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? 1 };
  },
};

let http: Server;
let https: Server;
let dir: string;
const snis: string[] = [];
const port = (s: Server) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "btw-route-probe-"));
  await execa("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=btw-test", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
  http = createServer(answer);
  https = createTlsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, answer);
  https.on("secureConnection", (s: { servername?: string }) => snis.push(s.servername ?? ""));
  await Promise.all([http, https].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()))));
}, 60_000);

afterAll(async () => {
  await Promise.all([http, https].map((s) => new Promise<void>((r) => (s ? s.close(() => r()) : r()))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the route probe, run by a real sh and curl", () => {
  it("asks once for every name, by Host header, and reads each answer's status and body", async () => {
    const answers = await probeRoutes(local, { scheme: "http", port: port(http), address: "127.0.0.1" }, ["acme.example.com", "gone.example.com", "down.example.com"]);
    expect(answers).toEqual([
      { host: "acme.example.com", status: 200, excerpt: '{"status":"ok"}', error: null },
      { host: "gone.example.com", status: 404, excerpt: "Not found", error: null },
      { host: "down.example.com", status: 502, excerpt: "", error: null },
    ]);
    expect(answers.map(isHealthyRoute)).toEqual([true, false, false]);
  });

  it("over TLS: the SNI is the tenant's name, and a certificate nobody trusts does not stop the probe", async () => {
    snis.length = 0;
    const answers = await probeRoutes(local, { scheme: "https", port: port(https), address: "127.0.0.1" }, ["acme.example.com", "gone.example.com"]);
    expect(answers.map((a) => [a.host, a.status, a.excerpt])).toEqual([
      ["acme.example.com", 200, '{"status":"ok"}'],
      ["gone.example.com", 404, "Not found"],
    ]);
    expect(snis.sort()).toEqual(["acme.example.com", "gone.example.com"]);
  });

  it("nothing listening: each name says curl's reason, no status", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const p = port(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const [a] = await probeRoutes(local, { scheme: "http", port: p, address: "127.0.0.1" }, ["acme.example.com"]);
    expect(a).toMatchObject({ host: "acme.example.com", status: null, excerpt: "" });
    expect(a!.error).toMatch(/^curl: \(7\) /);
  });

  it("more names than run at once (batches of 16): every one answered, in order", async () => {
    const names = Array.from({ length: 40 }, (_, i) => (i === 17 ? "acme.example.com" : `t${i}.example.com`));
    const answers = await probeRoutes(local, { scheme: "http", port: port(http), address: "127.0.0.1" }, names);
    expect(answers.map((a) => a.host)).toEqual(names);
    expect(answers.map((a) => a.status)).toEqual(names.map((n) => (n === "acme.example.com" ? 200 : 404)));
  });

  it("a connection that fails: every name carries the reason instead of an exception", async () => {
    const dead = { run: async () => Promise.reject(new Error("ssh: connect to host 192.0.2.1 port 22: Connection timed out")) };
    const answers = await probeRoutes(dead, { scheme: "http", port: 80, address: "127.0.0.1" }, ["acme.example.com"]);
    expect(answers).toEqual([{ host: "acme.example.com", status: null, excerpt: "", error: "the probe failed: ssh: connect to host 192.0.2.1 port 22: Connection timed out" }]);
  });
});
