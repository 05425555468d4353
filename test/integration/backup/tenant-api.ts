import { request } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import type { BtwHome } from "../../support/cli.js";
import { labSshArgs, onVm, type LabServer } from "../../support/lab-home.js";

// Test plumbing for the backup e2e tests: a tenant's n8n reached through an SSH tunnel from
// the test (not through the VM's proxy, whose routes other test runs on the same VM rewrite),
// authenticated with the tenant's own API key and owner password read from the btw state.

export interface TenantApi {
  /** public API with the tenant's key */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }>;
  /** public API with another key than the state's (an old one a rotation revoked) */
  apiAs<T = unknown>(apiKey: string, method: string, path: string): Promise<{ status: number; json: T }>;
  /** internal REST API with the owner's session */
  rest<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }>;
  close(): void;
}


export async function tenantSecrets(home: BtwHome, slug: string): Promise<Map<string, string>> {
  const { openDb } = await import("../../../src/state/db.js");
  const { loadMasterKey } = await import("../../../src/secrets/master-key.js");
  const { readAllSecrets } = await import("../../../src/ops/tenant-secrets.js");
  const db = await openDb({ dataDir: join(home.dir, "state"), command: "test fixture", lockTimeoutMs: 60_000 });
  try {
    const t = (await db.query<{ id: number }>("select id from tenants where slug = $1 and status <> 'deleted'", [slug])).rows[0];
    if (!t) throw new Error(`no live tenant ${slug}`);
    return await readAllSecrets(db, loadMasterKey(home.dir, {}), t.id);
  } finally {
    await db.close();
  }
}

export async function tenantApi(home: BtwHome, server: LabServer, slug: string, domain: string): Promise<TenantApi> {
  const secrets = await tenantSecrets(home, slug);
  const inspect = await onVm(server, ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", `btw-${slug}-n8n`]);
  if (inspect.code !== 0) throw new Error(`no n8n container of ${slug} on ${server.name}: ${inspect.stderr.trim()}`);
  const ip = (JSON.parse(inspect.stdout) as Record<string, { IPAddress: string }>)[`btw-${slug}-edge`]!.IPAddress;
  // A unix socket, not a loopback port: a random port could be taken by any of the suite's
  // outgoing connections (they share the ephemeral range), and ssh then exits at once.
  const dir = mkdtempSync(join(tmpdir(), "btw-tunnel-"));
  const socketPath = join(dir, "n8n.sock");
  // a connection of its own: a forwarding asked of a shared master outlives its client
  const open = (): ResultPromise =>
    execa("ssh", ["-N", ...labSshArgs(server, { mux: false }), "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes", "-L", `${socketPath}:${ip}:5678`, `${server.user}@${server.host}`], { reject: false });
  let tunnel = open();
  let exited: { stderr: string; exitCode?: number } | null = null;
  const watch = (t: ResultPromise) => void t.then((r) => { if (t === tunnel) exited = { stderr: String(r.stderr ?? ""), exitCode: r.exitCode }; });
  watch(tunnel);
  const call = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    new Promise<{ status: number; body: string; cookies: string[] }>((resolve, reject) => {
      const req = request({ socketPath, method, path, headers: { host: "localhost", "content-type": "application/json", accept: "application/json", ...headers }, timeout: 60_000 }, (res) => {
        let b = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (b += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b, cookies: (res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]!) }));
      });
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("timeout")));
      if (body !== undefined) req.write(JSON.stringify(body));
      req.end();
    });
  // wait for the tunnel (60 s: three creates and another lane may load the machine); an ssh
  // that exited is started again, up to three times, and its reason kept for the error
  let lastError = "";
  const fail = () => {
    tunnel.kill();
    rmSync(dir, { recursive: true, force: true });
    return new Error(`no tunnel to ${slug}'s n8n (${ip}:5678 on ${server.name}): ${lastError}`);
  };
  for (let i = 0, restarts = 0; ; i++) {
    try {
      const h = await call("GET", "/healthz", {});
      if (h.status === 200) break;
      lastError = `/healthz answered HTTP ${h.status}`;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (exited) {
      const why: { stderr: string; exitCode?: number } = exited;
      lastError = `ssh exited ${why.exitCode}: ${why.stderr.trim().split("\n").pop() ?? ""}`;
      if (++restarts > 3) throw fail();
      exited = null;
      tunnel = open();
      watch(tunnel);
    }
    if (i > 120) throw fail();
    await new Promise((r) => setTimeout(r, 500));
  }
  let cookie: string | null = null;
  const parse = <T>(r: { status: number; body: string }) => {
    let json: unknown = r.body;
    try {
      json = JSON.parse(r.body);
    } catch {
      /* text */
    }
    return { status: r.status, json: json as T };
  };
  return {
    api: async (method, path, body) => parse(await call(method, path, { "x-n8n-api-key": secrets.get("N8N_API_KEY")! }, body)),
    apiAs: async (apiKey, method, path) => parse(await call(method, path, { "x-n8n-api-key": apiKey })),
    rest: async (method, path, body) => {
      if (!cookie) {
        let login = await call("POST", "/rest/login", {}, { emailOrLdapLoginId: `owner@${slug}.${domain}`, password: secrets.get("N8N_OWNER_PASSWORD") });
        // n8n lets an account log in 5 times a minute (429 beyond): wait it out, as btw does
        for (let i = 0; login.status === 429 && i < 8; i++) {
          await new Promise((r) => setTimeout(r, 10_000));
          login = await call("POST", "/rest/login", {}, { emailOrLdapLoginId: `owner@${slug}.${domain}`, password: secrets.get("N8N_OWNER_PASSWORD") });
        }
        if (login.status !== 200) throw new Error(`login to ${slug}'s n8n: HTTP ${login.status} ${login.body.slice(0, 200)}`);
        cookie = login.cookies.join("; ");
      }
      return parse(await call(method, path, { cookie }, body));
    },
    close: () => {
      tunnel.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a round trip must preserve: workflows, credentials (by id and name), executions. */
export async function snapshot(t: TenantApi) {
  const wf = await t.api<{ data: Array<{ id: string; name: string; nodes: unknown[] }> }>("GET", "/api/v1/workflows?limit=250");
  const cred = await t.rest<{ data: Array<{ id: string; name: string; type: string }> }>("GET", "/rest/credentials");
  const ex = await t.api<{ data: Array<{ id: string; workflowId: string; status: string; mode: string }> }>("GET", "/api/v1/executions?limit=250");
  // The executions the tests made (manual runs, webhooks): a published WF3's schedule fires on
  // its own clock (pro: Monday 08:00 in the tenant's zone among others), and one that fired
  // between a snapshot and its comparison is new data, not data lost or changed (CI of stop 31).
  const made = ex.json.data.filter((e) => e.mode !== "trigger");
  return {
    workflows: wf.json.data.map((w) => ({ id: w.id, name: w.name, nodes: w.nodes.length })).sort((a, b) => a.id.localeCompare(b.id)),
    credentials: cred.json.data.map((c) => ({ id: c.id, name: c.name, type: c.type })).sort((a, b) => a.id.localeCompare(b.id)),
    executions: made.map((e) => ({ id: String(e.id), workflowId: String(e.workflowId), status: e.status })).sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** The credential's decrypted data (n8n blanks secret fields but must decrypt to show the rest). */
export async function credentialData(t: TenantApi, id: string): Promise<{ status: number; data: Record<string, unknown> | null }> {
  const r = await t.rest<{ data?: { data?: Record<string, unknown> }; message?: string }>("GET", `/rest/credentials/${id}?includeData=true`);
  return { status: r.status, data: r.json?.data?.data ?? null };
}

/** A small workflow (manual trigger + Code) run `times` times: executions to preserve. */
export async function makeExecutions(t: TenantApi, times: number): Promise<string> {
  const wf = await t.api<{ id: string }>("POST", "/api/v1/workflows", {
    name: "backup test: counter",
    nodes: [
      { id: "a", name: "Start", type: "n8n-nodes-base.manualTrigger", typeVersion: 1, position: [0, 0], parameters: {} },
      { id: "b", name: "Count", type: "n8n-nodes-base.code", typeVersion: 2, position: [200, 0], parameters: { jsCode: "return [{ json: { n: 42 } }];" } },
    ],
    connections: { Start: { main: [[{ node: "Count", type: "main", index: 0 }]] } },
    settings: { executionOrder: "v1", saveManualExecutions: true },
  });
  if (wf.status !== 200) throw new Error(`create workflow: HTTP ${wf.status} ${JSON.stringify(wf.json).slice(0, 200)}`);
  const id = wf.json.id;
  const full = await t.rest<{ data: unknown }>("GET", `/rest/workflows/${id}`);
  for (let i = 0; i < times; i++) {
    const r = await t.rest<{ data: { executionId?: string } }>("POST", `/rest/workflows/${id}/run`, { workflowData: full.json.data, triggerToStartFrom: { name: "Start" } });
    if (r.status !== 200) throw new Error(`run workflow: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  }
  // wait until they are all recorded as finished
  for (let i = 0; i < 120; i++) {
    const ex = await t.api<{ data: Array<{ status: string; workflowId: string }> }>("GET", `/api/v1/executions?workflowId=${id}&limit=100`);
    if (ex.json.data.filter((e) => e.status === "success").length >= times) return id;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("executions did not finish");
}

/** Removes whatever an earlier, crashed run left of a tenant on a VM (containers, volumes, networks, files). */
export async function scrubTenant(server: LabServer, slug: string): Promise<void> {
  if (!/^[a-z0-9-]+$/.test(slug)) throw new Error(`bad slug ${slug}`);
  const script = [
    'docker ps -aq --filter "label=btw.tenant=$1" | xargs -r docker rm -f',
    'docker volume ls -q --filter "label=btw.tenant=$1" | xargs -r docker volume rm',
    // the server's proxy stays joined to a leftover's edge network, and a network with an
    // endpoint cannot be removed (seen: a failed run's bk-rt network refused the next create)
    'for n in $(docker network ls -q --filter "label=btw.tenant=$1"); do docker network disconnect -f "$n" btw-proxy 2>/dev/null; done',
    'docker network ls -q --filter "label=btw.tenant=$1" | xargs -r docker network rm',
    'rm -rf "/opt/btw/tenants/$1"',
    // a vanished btw home's site files (a killed run's state) still route the name: another
    // state is then refused it ("already routed by another btw state") until they go
    'for f in $(grep -l -E "^(https?://)?$1\\." /opt/btw/proxy/conf/sites/*.caddy 2>/dev/null); do [ "${f##*/}" = legacy.caddy ] || rm -f "$f" "${f%.caddy}.metrics"; done',
    "true",
  ].join("; ");
  await onVm(server, ["sh", "-c", script, "sh", slug]);
}
