// Shared plumbing for the FAKE upstream servers (fake OpenAI, fake WordPress): a node:http
// server on a caller-chosen address that records every request for assertions.

import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** path without the query string */
  path: string;
  query: Record<string, string>;
  /** lower-cased header names; Authorization is kept (these are fakes with fake secrets) */
  headers: Record<string, string>;
  body: Buffer;
  /** the body parsed as JSON when it is JSON, else undefined */
  json: unknown;
  status: number;
  at: Date;
}

export interface FakeServerOptions {
  /** bind address: 127.0.0.1 in integration tests, the lab bridge gateway in e2e */
  host?: string;
  /** 0 = any free port */
  port?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: Buffer | string | object;
}

export type Handler = (req: Omit<RecordedRequest, "status" | "at">) => Reply | Promise<Reply>;

export interface FakeServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

const MAX_BODY = 32 * 1024 * 1024;

export async function startFakeServer(handler: Handler, opts: FakeServerOptions = {}): Promise<FakeServer> {
  const host = opts.host ?? "127.0.0.1";
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => {
      void (async () => {
        const u = new URL(req.url ?? "/", "http://fake");
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
        }
        let json: unknown;
        if (body.length && /json/.test(headers["content-type"] ?? "")) {
          try {
            json = JSON.parse(body.toString("utf8"));
          } catch {
            json = undefined;
          }
        }
        const seen = { method: req.method ?? "GET", path: u.pathname, query: Object.fromEntries(u.searchParams), headers, body, json };
        let reply: Reply;
        try {
          reply = size > MAX_BODY ? { status: 413, body: { error: "payload too large" } } : await handler(seen);
        } catch (e) {
          reply = { status: 500, body: { error: String(e) } };
        }
        requests.push({ ...seen, status: reply.status, at: new Date() });
        const isBuffer = Buffer.isBuffer(reply.body);
        const payload = isBuffer || typeof reply.body === "string" ? (reply.body as Buffer | string) : JSON.stringify(reply.body);
        res.writeHead(reply.status, {
          "content-type": isBuffer ? "application/octet-stream" : typeof reply.body === "string" ? "text/plain" : "application/json; charset=utf-8",
          ...reply.headers,
        });
        res.end(payload);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    host,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `Basic base64(user:pass)` → {user, pass}, or null. */
export function parseBasicAuth(header: string | undefined): { user: string; pass: string } | null {
  const m = /^Basic\s+(.+)$/i.exec(header ?? "");
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return i < 0 ? null : { user: decoded.slice(0, i), pass: decoded.slice(i + 1) };
}
