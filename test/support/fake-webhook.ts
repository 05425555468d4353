// FAKE webhook receiver (plays Slack's incoming webhooks, a generic webhook, or
// Alertmanager's webhook target): a local HTTP server that records every request.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
}

export interface FakeWebhook {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** answer the next requests with this status (default 200) */
  respondWith(status: number): void;
  close(): Promise<void>;
}

/** `host`: the address to listen on (default 127.0.0.1; e2e: the lab bridge's, where the VMs reach it). */
export async function startFakeWebhook(opts: { host?: string } = {}): Promise<FakeWebhook> {
  const host = opts.host ?? "127.0.0.1";
  const received: ReceivedRequest[] = [];
  let status = 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // not JSON: kept as text
      }
      received.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, json });
      res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    received,
    respondWith: (s) => void (status = s),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
