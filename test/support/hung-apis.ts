// FAKE Docker Engine API and FAKE S3 API that hang (issue 22 item 11): real sockets that
// accept the connection and then never answer — or answer the start of a stream and then go
// silent — as a hung dockerd behind a forwarded socket, or a half-open socket to an object
// store, does.

import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * - silent: reads every request, answers none (a dockerd stopped by SIGSTOP)
 * - exec-then-silent: creates an exec and upgrades its start to a raw stream, then sends nothing
 * - archive-then-silent: answers GET …/archive with its headers and a few bytes, then nothing
 * - takes-nothing: never reads a request's body (a PUT …/archive whose bytes are not taken)
 */
export type HungDockerMode = "silent" | "exec-then-silent" | "archive-then-silent" | "takes-nothing";

export interface HungApi {
  /** unix socket (Docker) or http://127.0.0.1:port (S3) */
  readonly address: string;
  /** requests seen, as "METHOD /path" */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startHungDockerApi(mode: HungDockerMode): Promise<HungApi> {
  const dir = mkdtempSync(join(tmpdir(), "btw-hung-docker-"));
  const socketPath = join(dir, "docker.sock");
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const path = (req.url ?? "").replace(/^\/v[\d.]+/, "");
    if (mode === "takes-nothing") return void req.pause();
    req.resume();
    if (mode === "exec-then-silent" && req.method === "POST" && /^\/containers\/[^/]+\/exec/.test(path)) {
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ Id: "fake-exec" }));
      return;
    }
    if (mode === "archive-then-silent" && req.method === "GET" && /^\/containers\/[^/]+\/archive/.test(path)) {
      res.writeHead(200, { "content-type": "application/x-tar" });
      res.write(Buffer.alloc(512));
      return; // and nothing more
    }
    // silent: no answer, ever
  });
  server.on("upgrade", (req, socket) => {
    requests.push(`${req.method} ${req.url}`);
    if (mode !== "exec-then-silent") return;
    socket.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    // …and then no frame
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    address: socketPath,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * - silent: a half-open store: accepts, reads, never answers
 * - body-then-silent: answers a GET with its headers and a few bytes of the object, then nothing
 */
export async function startHungS3(mode: "silent" | "body-then-silent" = "silent"): Promise<HungApi> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    if (mode === "body-then-silent" && req.method === "GET") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(1024 * 1024) });
      res.write(Buffer.alloc(1024));
    }
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
