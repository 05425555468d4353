// FAKE parts of a tenant server for commands run in-process (`status`, `server add`, …) whose
// SSH client a test replaces: its Docker Engine API on a unix socket (what the forwarded
// socket reaches), and its proxy as the route probe sees it (the probe's remote command
// answered per host name, as curl on the server would print it).
import { createServer, type Server } from "node:http";
import { ROUTE_PROBE_SCRIPT } from "../../src/core/commands/route-probe.js";

export interface FakeContainer {
  tenant: string;
  service: string;
  /** default running */
  state?: string;
  /** default healthy */
  health?: "healthy" | "unhealthy" | "starting";
}

/** FAKE Docker Engine API: `GET /containers/json` lists `containers()` (read at each request); anything else 404. */
export function fakeDockerApi(socketPath: string, containers: () => readonly FakeContainer[] = () => []): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && /^(\/v[\d.]+)?\/containers\/json/.test(req.url ?? "")) {
      const list = containers().map((c) => ({
        Id: `id-${c.tenant}-${c.service}`,
        Names: [`/btw-${c.tenant}-${c.service}`],
        Image: c.service,
        ImageID: `sha256:${c.service}`,
        Labels: { "btw.tenant": c.tenant, "btw.service": c.service },
        State: c.state ?? "running",
        Status: `Up 2 hours (${c.health ?? "healthy"})`,
      }));
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(list));
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "not in this fake" }));
  });
  return new Promise((r) => server.listen(socketPath, () => r(server)));
}

/** A tenant's three containers, running and healthy. */
export const healthyStack = (tenant: string): FakeContainer[] => ["n8n", "postgres", "redis"].map((service) => ({ tenant, service }));

/** How the fake proxy answers a host name; a host it does not know gets Caddy's catch-all, 404 "Not found". */
export type FakeRoutes = ReadonlyMap<string, { status: number; body: string }>;

/** n8n's /healthz as it answers through a working route. */
export const N8N_HEALTHZ = { status: 200, body: '{"status":"ok"}' } as const;

/**
 * The route probe's stdout for `argv` when argv is that probe (null otherwise): one line per
 * host asked, as the script prints it.
 */
export function answerRouteProbe(argv: readonly string[], routes: FakeRoutes): string | null {
  if (argv[0] !== "sh" || argv[2] !== ROUTE_PROBE_SCRIPT) return null;
  const hosts = argv.slice(11);
  return hosts.map((h) => {
    const r = routes.get(h) ?? { status: 404, body: "Not found" };
    return `route ${h} ${r.status} 0 ${r.body}\n`;
  }).join("");
}
