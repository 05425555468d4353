// Time: ~7–10 min (613 s in two lanes beside unit and integration): the edge lab, two tenants, the
// staged switch with requests running (each stage waits out an edge sync and its reload), a
// killed migration through the edge and its finish.
//
// The edge on the lab (issue 14): a second lab bridge plays Hetzner's private network, lab-1
// and lab-2 sit on both, and `lab-edge` plays the edge tier — its Caddy terminates HTTPS with
// its own CA (edge.tls internal; in production the load balancer's managed certificate) and
// routes each host to its tenant's server over the private network.
//
// One fixture for the file: a tenant created in direct mode on lab-1, the documented staged
// switch to the edge (edge.switch dns then done, `btw server isolate`, `btw edge sync`) with
// requests running, a second tenant created behind the edge on lab-2, then every check on
// those two tenants: HTTPS by host name through the edge, the servers' proxies
// gone from the network that plays the internet, /metrics refused at the edge but served on
// the private network, a tenant container kept from the platform but not from the internet,
// `btw status`'s edge rows, a custom domain, and a migration lab-1 → lab-2 with requests
// running through the edge the whole time.
//
// The stand-in metadata service (169.254.169.254) and the "internet" host are small HTTP
// servers of this file on the lab bridge (the host's side of it).

import { readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { connect as tlsConnect, type SecureVersion } from "node:tls";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { labConfig } from "../lab/config.js";
import { labEdge, type LabEdge } from "../lab/lab.js";
import { domainChallengeToken } from "../../src/core/edge/domains.js";
import { BTW, errorLines, killDuring, stateSql, type BtwHome, type BtwResult } from "../support/cli.js";
import { startFakeDns, type FakeRecords } from "../support/fake-dns.js";
import { LAB_DOMAIN, labHome, onVm, proxyMetricsToken, viaProxy, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { scrubTenant } from "../integration/backup/tenant-api.js";

const [A, B] = ["edg-a", "edg-b"];
const hostOf = (t: string) => `${t}.${LAB_DOMAIN}`;
const CUSTOM = "shop.customer-edge.test";
// an apex (no CNAME possible): the edge's address, proven by the TXT token; and a CNAME to B's name
const APEX = "customer-apex.test";
const STOLEN = "stolen.customer-edge.test";
const GATEWAY = "172.29.0.1";
const METADATA = "169.254.169.254";
const LAB_BRIDGE = "btw-lab0";

const measure = (line: string) => process.stderr.write(`edge e2e: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

describe("the edge on the lab", () => {
  let lab: LaneLab;
  let edgeLab: LabEdge;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  let ca = "";
  let dns: Awaited<ReturnType<typeof startFakeDns>>;
  let dnsRecords: Record<string, FakeRecords>; // read by the fake server at each query
  const servers: Server[] = [];
  let metadataAdded = false;
  const t0 = Date.now();

  const btw = async (args: string[], timeoutMs = 400_000): Promise<BtwResult> => {
    const r = await execa(process.execPath, [BTW, ...args], { env: { ...home.env, BTW_DNS_SERVERS: dns.address }, extendEnv: false, reject: false, cwd: home.dir, timeout: timeoutMs });
    return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const must = async (args: string[]): Promise<BtwResult> => {
    const r = await btw(args);
    expect(r.code, `btw ${args.join(" ")}\n${r.stderr}`).toBe(0);
    return r;
  };

  /** One GET, over HTTP or (with TLS options) HTTPS: its status and body. */
  const get = (opts: RequestOptions, tls: boolean, timeoutMs = 10_000): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)({ ...opts, timeout: timeoutMs, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
    });

  /** HTTPS through the edge VM (the address "DNS" gives every tenant name), trusting only the edge's CA. */
  const viaEdge = (host: string, path = "/healthz", timeoutMs = 10_000): Promise<Answer> =>
    get({ host: edgeLab.edge.host, port: 443, servername: host, path, headers: { Host: host }, ca } as RequestOptions, true, timeoutMs);

  /** One TLS handshake with the edge VM for `servername`, trusting only the edge's CA: the protocol agreed. */
  const handshake = (servername: string, opts: { minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string } = {}): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tlsConnect({ host: edgeLab.edge.host, port: 443, servername, ca, ...opts }, () => {
        resolve(s.getProtocol() ?? "none");
        s.destroy();
      });
      s.setTimeout(10_000, () => s.destroy(new Error("timeout")));
      s.on("error", reject);
    });

  const httpGet = (host: string, port: number, path: string, hostHeader?: string): Promise<Answer> =>
    get({ host, port, path, headers: hostHeader ? { Host: hostHeader } : {} }, false);

  const listen = (host: string, body: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const s = createServer((_req, res) => res.end(body));
      s.on("error", reject);
      s.listen(0, host, () => {
        servers.push(s);
        resolve((s.address() as { port: number }).port);
      });
    });

  /**
   * TCP connects from inside a tenant's n8n container (its node), all at once: `true` when
   * the connection opened within 3 s.
   */
  const reachFromTenant = async (vm: LabServer, tenant: string, targets: Array<[string, number]>): Promise<boolean[]> => {
    const script = [
      "const net = require('net');",
      "const t = JSON.parse(process.argv[1]);",
      "Promise.all(t.map(([h, p]) => new Promise((r) => { const s = net.connect({ host: h, port: p }); const d = setTimeout(() => { s.destroy(); r(false); }, 3000);",
      "s.on('connect', () => { clearTimeout(d); s.destroy(); r(true); }); s.on('error', () => { clearTimeout(d); r(false); }); }))).then((x) => console.log(JSON.stringify(x)));",
    ].join(" ");
    const r = await onVm(vm, ["docker", "exec", `btw-${tenant}-n8n`, "node", "-e", script, JSON.stringify(targets)]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as boolean[];
  };

  /**
   * A, B and their routes gone from every lab server: a run killed on another lane leaves its
   * site files behind, and they keep the names routed by a state that no longer exists ("host
   * edg-a… is already routed on lab-3 by another btw state", CI of be22750).
   */
  const purgeLeftovers = async () => {
    for (const vm of lab.allServers) for (const t of [A, B]) await scrubTenant(vm, t);
  };

  /**
   * Leaves lab-1 and lab-2 as the other files expect them: no isolation chains (the proxy
   * publishes on every address in both modes; the done stage closed the public side there).
   */
  const resetServers = async () => {
    for (const vm of [vm1, vm2]) {
      await onVm(vm, ["sh", "-c", "iptables -w -D DOCKER-USER -j BTW-ISOLATION 2>/dev/null; iptables -w -D INPUT -j BTW-ISOLATION-INPUT 2>/dev/null; iptables -w -F BTW-ISOLATION 2>/dev/null; iptables -w -F BTW-ISOLATION-INPUT 2>/dev/null; iptables -w -X BTW-ISOLATION 2>/dev/null; iptables -w -X BTW-ISOLATION-INPUT 2>/dev/null; true"]);
    }
    await onVm(edgeLab.edge, ["docker", "rm", "-f", "btw-proxy"]);
  };

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1]!];
    expect(vm2, "this file needs two lab servers").toBeDefined();
    const e0 = Date.now();
    edgeLab = await labEdge(labConfig());
    measure(`edge lab (private network, lab-edge): ${((Date.now() - e0) / 1000).toFixed(1)} s`);
    await purgeLeftovers();
    dnsRecords = {
      [hostOf(A)]: { a: [edgeLab.edge.host] },
      [hostOf(B)]: { a: [edgeLab.edge.host] },
      [CUSTOM]: { cname: hostOf(A) },
      [APEX]: { a: [edgeLab.edge.host] },
      [STOLEN]: { cname: hostOf(B), a: [edgeLab.edge.host] },
    };
    dns = await startFakeDns(dnsRecords);
    home = await labHome(lab, { servers: [] });
    const file = join(home.dir, "btw.yml");
    const cfg = parse(readFileSync(file, "utf8")) as Record<string, any>;
    // the lab's private network as Hetzner's; the edge VM as a hand-run edge with its own CA
    // (the servers' proxies keep X-Forwarded-For from its private address only)
    cfg.hetzner = { ...(cfg.hetzner ?? {}), networkRange: edgeLab.privateNetwork.range };
    cfg.edge = { tls: "internal", proxies: [{ name: "lab-edge", host: edgeLab.edge.host, privateIp: edgeLab.privateAddresses[edgeLab.edge.name]! }] };
    // one operator key for every machine (servers are added with --ssh-key; the edge proxy uses this)
    cfg.ssh = { ...(cfg.ssh ?? {}), identityFile: edgeLab.edge.sshKey };
    writeFileSync(file, stringify(cfg));
    for (const vm of [vm1, vm2]) {
      await must(["server", "add", vm.name, "--host", vm.host, "--port", String(vm.port), "--user", vm.user, "--ssh-key", vm.sshKey, "--capacity", "12", "--private-ip", edgeLab.privateAddresses[vm.name]!]);
    }
    // A in direct mode (B comes once the fleet is behind the edge)
    const c0 = Date.now();
    await must(["tenant", "create", A, "--server", vm1.name]);
    measure(`${A} created in direct mode: ${((Date.now() - c0) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(async () => {
    for (const s of servers) s.close();
    if (metadataAdded) await execa("ip", ["addr", "del", `${METADATA}/32`, "dev", LAB_BRIDGE], { reject: false });
    await Promise.all([A, B].map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"], { timeoutMs: 300_000 }).catch(() => undefined))); // at once: each takes its own tenant lock
    if (vm1) {
      await purgeLeftovers();
      if (edgeLab) await resetServers();
    }
    await dns?.close();
    home?.cleanup();
    measure(`whole file: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }, 600_000);

  /**
   * Requests every 100 ms until stopped; each sample: when, and the status or the error. A
   * connection reset before any answer byte ("socket hang up": a Caddy reload handing its
   * listener over, seen once in 246 requests) is asked again once at once, as HTTP clients do
   * for an idempotent GET; the sample says so (`retried`), and a second failure counts.
   */
  const keepAsking = (ask: () => Promise<Answer>) => {
    const samples: Array<{ at: number; ok: boolean; status: number | string; ms: number; retried?: true }> = [];
    let running = true;
    const once = async (): Promise<{ status: number | string; ok: boolean }> => {
      try {
        const r = await ask();
        return { status: r.status, ok: r.status === 200 };
      } catch (e) {
        return { status: (e as Error).message, ok: false };
      }
    };
    const done = (async () => {
      while (running) {
        const at = Date.now();
        let r = await once();
        const reset = !r.ok && typeof r.status === "string" && /socket hang up|ECONNRESET/.test(r.status);
        if (reset) r = await once();
        samples.push({ at, ok: r.ok, status: r.status, ms: Date.now() - at, ...(reset ? { retried: true as const } : {}) });
        await sleep(100);
      }
    })();
    return {
      samples,
      stop: async () => {
        running = false;
        await done;
        return samples;
      },
    };
  };
  const failed = (xs: Array<{ ok: boolean; status: number | string }>) => xs.filter((x) => !x.ok).map((x) => String(x.status));

  const setEdge = (edge: Record<string, unknown>, proxy?: Record<string, unknown>) => {
    const file = join(home.dir, "btw.yml");
    const cfg = parse(readFileSync(file, "utf8")) as Record<string, any>;
    cfg.edge = { ...cfg.edge, ...edge };
    if (proxy) cfg.proxy = { ...cfg.proxy, ...proxy };
    writeFileSync(file, stringify(cfg));
  };

  it("switches the fleet from direct to edge in stages with requests running: no failed request on either path", async () => {
    // direct mode: the server's proxy answers for its tenant on the internet side
    expect((await viaProxy(vm1, hostOf(A))).status).toBe(200);

    // stage dns (the README's sequence; `infra apply` has no part in the lab): the servers keep
    // answering visitors directly while the edge starts answering for the same names
    setEdge({ switch: "dns" }, { mode: "edge" });
    const i = await must(["server", "isolate", "--json"]);
    expect((JSON.parse(i.stdout) as { results: Array<{ server: string; ok: boolean }> }).results.map((r) => [r.server, r.ok]).sort()).toEqual([[vm1.name, true], [vm2.name, true]]);
    const direct = keepAsking(() => viaProxy(vm1, hostOf(A)));
    const s0 = Date.now();
    const sync = await must(["edge", "sync", "--json"]);
    const s1 = Date.now();
    await sleep(1000);
    const directSamples = await direct.stop();
    const results = (JSON.parse(sync.stdout) as { results: Array<{ target: string; kind: string; ok: boolean; routes?: number }> }).results;
    expect(results.find((r) => r.kind === "edge")).toMatchObject({ target: "lab-edge", ok: true, routes: 1 });
    ca = (await onVm(edgeLab.edge, ["docker", "exec", "btw-proxy", "cat", "/data/caddy/pki/authorities/local/root.crt"])).stdout;
    expect(ca).toContain("BEGIN CERTIFICATE");
    expect((await viaEdge(hostOf(A))).status, `${A} through the edge`).toBe(200);
    measure(`switch stage dns: edge sync ${((s1 - s0) / 1000).toFixed(1)} s; ${directSamples.length} direct requests meanwhile, failed: ${failed(directSamples).length}, reset and asked again: ${directSamples.filter((x) => x.retried).length}`);
    expect(failed(directSamples)).toEqual([]);
    expect((await viaProxy(vm1, hostOf(A))).status).toBe(200);

    // stage done: the servers' firewalls refuse 80/443 on every address but the private one;
    // the proxies stay as they are (no recreate) — visitors, now all at the edge, see no error
    // and no stall
    setEdge({ switch: "done" });
    const proxyIdentity = async () => Promise.all([vm1, vm2].map(async (vm) => (await onVm(vm, ["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", "btw-proxy"])).stdout.trim()));
    const proxiesBefore = await proxyIdentity();
    const viaEdgeA = keepAsking(() => viaEdge(hostOf(A)));
    const d0 = Date.now();
    await must(["edge", "sync", "--json"]);
    const d1 = Date.now();
    await sleep(1000);
    const edgeA = await viaEdgeA.stop();
    const slowest = Math.max(0, ...edgeA.slice(1).map((x, k) => x.at - edgeA[k]!.at));
    measure(`switch stage done: edge sync ${((d1 - d0) / 1000).toFixed(1)} s; ${edgeA.length} requests through the edge meanwhile, failed: ${failed(edgeA).length}, reset and asked again: ${edgeA.filter((x) => x.retried).length}, longest gap between answers ${(slowest / 1000).toFixed(1)} s`);
    expect(failed(edgeA)).toEqual([]);
    // closing the public side is a firewall change and a Caddy reload (TLS off), not a proxy
    // recreate: the same containers, never restarted (issue 25: 3.2–8.6 s without an answer
    // while each server's proxy was re-published on its private address). The gap is the
    // visitor's figure: 0.3–0.4 s on a quiet lab, 1.9 s once in CI with another e2e lane and
    // a reload beside it, so its bound stays under the old stall, not at the quiet figure.
    expect(await proxyIdentity(), "the servers' proxies: same container, same start").toEqual(proxiesBefore);
    expect(slowest, "longest gap between answers through the edge while the done stage ran").toBeLessThan(3000);

    // a tenant created behind the edge answers through it at once: the create routes it there
    const c0 = Date.now();
    await must(["tenant", "create", B, "--server", vm2.name]);
    measure(`${B} created in edge mode: ${((Date.now() - c0) / 1000).toFixed(1)} s`);
    for (const t of [A, B]) expect((await viaEdge(hostOf(t))).status, `${t} through the edge`).toBe(200);
    // an unknown name gets no certificate from the edge
    await expect(viaEdge(`nobody.${LAB_DOMAIN}`)).rejects.toThrow();
    // the servers' proxies: gone from the internet side, on the private network only
    for (const vm of [vm1, vm2]) await expect(viaProxy(vm, hostOf(A))).rejects.toThrow(/ECONNREFUSED/);
    expect((await httpGet(edgeLab.privateAddresses[vm1.name]!, 80, "/healthz", hostOf(A))).status).toBe(200);
  });

  it("refuses /metrics at the edge; the private network reads n8n's metrics", async () => {
    const pub = await viaEdge(hostOf(A), "/metrics");
    expect(pub.status).toBe(404);
    expect(pub.body).not.toMatch(/n8n_/);
    // the private listener asks for the server's token (issue 22 item 4): an address proves nothing
    const p1 = edgeLab.privateAddresses[vm1.name]!;
    expect((await httpGet(p1, 9180, `/tenants/${A}/metrics`)).status).toBe(401);
    const { token } = await proxyMetricsToken(vm1, A);
    expect(token, "this state's metrics file on lab-1 names its metrics token").toBeDefined();
    const priv = await get({ host: p1, port: 9180, path: `/tenants/${A}/metrics`, headers: { Authorization: `Bearer ${token}` } }, false);
    expect(priv.status).toBe(200);
    expect(priv.body).toMatch(/^n8n_\w+/m);
  });

  it("keeps a tenant's containers from the host, the other server, the private listeners and the metadata service, not from the internet", async () => {
    const internet = await listen(GATEWAY, "internet");
    // replace, not add: a run killed before its afterAll leaves the address on the bridge, and
    // `add` then fails ("File exists": this test failed so after a killed run, 2026-12-07)
    await execa("ip", ["addr", "replace", `${METADATA}/32`, "dev", LAB_BRIDGE]);
    metadataAdded = true;
    const metadataPort = await listen(METADATA, "metadata");
    const [p1, p2] = [edgeLab.privateAddresses[vm1.name]!, edgeLab.privateAddresses[vm2.name]!];
    const targets: Array<[string, number]> = [
      [GATEWAY, internet], // the internet
      [vm1.host, 22], // its host's sshd
      [p1, 22],
      [vm2.host, 22], // the other server
      [p2, 80],
      [p1, 9180], // the private metrics listeners
      [p2, 9180],
      [METADATA, metadataPort], // the stand-in metadata service
    ];
    // without the rules in the way: the same targets answer from lab-1 itself
    const fromHost = await onVm(vm1, ["sh", "-c", 'for t in "$@"; do timeout 3 bash -c "</dev/tcp/${t%:*}/${t#*:}" 2>/dev/null && echo 1 || echo 0; done', "sh", ...targets.map(([h, p]) => `${h}:${p}`)]);
    expect(fromHost.stdout.trim().split("\n"), "every target answers from lab-1's own namespace").toEqual(targets.map(() => "1"));
    const fromTenant = await reachFromTenant(vm1, A, targets);
    expect(Object.fromEntries(targets.map(([h, p], k) => [`${h}:${p}`, fromTenant[k]]))).toEqual(Object.fromEntries(targets.map(([h, p], k) => [`${h}:${p}`, k === 0])));
  });

  it("btw status shows the edge proxy healthy and its table in step with the state", async () => {
    const r = await btw(["status", "--json"]);
    const j = JSON.parse(r.stdout) as { edge?: Array<Record<string, unknown>> };
    expect(j.edge, r.stdout).toBeDefined();
    expect(j.edge![0]).toMatchObject({ proxy: "lab-edge", reachable: true, healthy: true, drift: "in-sync" });
  });

  it("routes a custom domain to a tenant at the edge with its own certificate (and n8n's WEBHOOK_URL with --webhook-url), and stops when removed; each killed mid-way and finished by its re-run; TLS 1.3 negotiated, 1.1 refused, HSTS on the platform's name only", async () => {
    const withDns = { ...home, env: { ...home.env, BTW_DNS_SERVERS: dns.address } };
    // killed after the tenant's server took the route, before the edge did
    await killDuring(withDns, ["tenant", "domain", "add", A, CUSTOM], "edge tables re-synced");
    // the re-run finishes it, and with --webhook-url moves n8n's WEBHOOK_URL to the customer's
    // name (issue 22, Also: never run before): in the tenant's .env and in the recreated n8n
    const webhookUrls = async () => [
      (await onVm(vm1, ["grep", "^WEBHOOK_URL=", `/opt/btw/tenants/${A}/.env`])).stdout.trim().replace(/^WEBHOOK_URL=/, "").replace(/^'|'$/g, ""),
      (await onVm(vm1, ["docker", "exec", `btw-${A}-n8n`, "printenv", "WEBHOOK_URL"])).stdout.trim(),
    ];
    const [defaultUrl] = await webhookUrls();
    expect(defaultUrl).toMatch(new RegExp(`^https?://${hostOf(A).replaceAll(".", "\\.")}/$`));
    const added = JSON.parse((await must(["tenant", "domain", "add", A, CUSTOM, "--webhook-url", "--json"])).stdout) as { domain: { webhook: boolean; webhookUrl: string } };
    expect(added.domain).toMatchObject({ webhook: true, webhookUrl: defaultUrl!.replace(hostOf(A), CUSTOM) });
    expect(await webhookUrls()).toEqual([added.domain.webhookUrl, added.domain.webhookUrl]);
    const r = await viaEdge(CUSTOM);
    expect(r.status, r.body).toBe(200);
    // TLS policy (issue 25): HSTS on the platform's name, not on the customer's domain (theirs
    // to pin); 1.3 negotiated; a client offering TLS 1.1 only gets the edge's protocol_version
    // alert (alert 70 comes from the server: this client speaks 1.1 at SECLEVEL=0)
    expect(r.headers["strict-transport-security"]).toBeUndefined();
    expect((await viaEdge(hostOf(A))).headers["strict-transport-security"]).toBe("max-age=31536000");
    expect(await handshake(CUSTOM)).toBe("TLSv1.3");
    expect(await handshake(hostOf(A))).toBe("TLSv1.3");
    await expect(handshake(hostOf(A), { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" })).rejects.toMatchObject({ code: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" });
    expect(await handshake(hostOf(A), { maxVersion: "TLSv1.2" })).toBe("TLSv1.2");
    const listed = JSON.parse((await must(["tenant", "domain", "list", A, "--json"])).stdout) as { domains: Array<{ tenant: string; hostname: string; webhook: boolean }> };
    expect(listed.domains.map((d) => [d.tenant, d.hostname, d.webhook])).toEqual([[A, CUSTOM, true]]);
    await killDuring(withDns, ["tenant", "domain", "remove", A, CUSTOM, "--yes"], "edge tables re-synced");
    await must(["tenant", "domain", "remove", A, CUSTOM, "--yes"]);
    await expect(viaEdge(CUSTOM)).rejects.toThrow();
    expect(JSON.stringify(JSON.parse((await must(["tenant", "domain", "list", A, "--json"])).stdout))).not.toContain(CUSTOM);
    expect((await viaEdge(hostOf(A))).status).toBe(200);
    // WEBHOOK_URL back on the tenant's own name
    expect(await webhookUrls()).toEqual([defaultUrl, defaultUrl]);

    // ownership (issue 22): every tenant's name resolves to the edge, so a CNAME to B's name is
    // refused, and an apex on the edge's address needs A's TXT token, which the refusal prints
    const stolen = await btw(["tenant", "domain", "add", A, STOLEN]);
    expect(stolen.code, stolen.stderr).toBe(2);
    expect(errorLines(stolen.stderr)).toEqual([`error: ${STOLEN} is a CNAME to ${hostOf(B)}, a platform name that is not ${A}'s: point the CNAME at ${hostOf(A)}`]);
    const unproven = await btw(["tenant", "domain", "add", A, APEX]);
    expect(unproven.code, unproven.stderr).toBe(2);
    const id = ((await stateSql(home, "select id from tenants where slug = $1 and status <> 'deleted'", [A])) as Array<{ id: number }>)[0]!.id;
    const token = domainChallengeToken({ id, domain: LAB_DOMAIN }, APEX);
    expect(errorLines(unproven.stderr)[0]).toContain(`add the TXT record _btw-challenge.${APEX} "${token}"`);
    dnsRecords[`_btw-challenge.${APEX}`] = { txt: [token] };
    const proven = await btw(["tenant", "domain", "add", A, APEX, "--dry-run", "--json"]);
    expect(proven.code, proven.stderr).toBe(0);
    expect(JSON.parse(proven.stdout)).toMatchObject({ dryRun: true, dns: { ok: true, via: "address" } });
    expect(JSON.stringify(JSON.parse((await must(["tenant", "domain", "list", A, "--json"])).stdout))).not.toContain(STOLEN);
  });

  it("migrates lab-1 → lab-2 with requests running through the edge, killed at the edge switch and finished: the route switches at the edge, no DNS change", async () => {
    // 20 s per request: an answer held by the edge while it reloads is a stall (measured: the
    // longest answer), not an error; only no answer within 20 s is one
    const asking = keepAsking(() => viaEdge(hostOf(A), "/healthz", 20_000));
    const m0 = Date.now();
    // killed as the edge switch starts (the target routes the tenant, the edge still sends it
    // to the source's maintenance page); the same command finishes the journaled cutover
    await killDuring(home, ["tenant", "migrate", A, "--to", vm2.name], "switch the edge route");
    const k = Date.now();
    // meanwhile `btw status` names the edge's stale route (the state already says lab-2)
    const st = JSON.parse((await btw(["status", "--json"])).stdout) as { healthy: boolean; edge: Array<{ proxy: string; drift: string; routes: { moved: unknown[] } }> };
    expect([st.healthy, st.edge[0]!.drift, JSON.stringify(st.edge[0]!.routes.moved)]).toEqual([false, "drift", expect.stringContaining(hostOf(A))]);
    const r = await btw(["tenant", "migrate", A, "--to", vm2.name, "--json"], 600_000);
    const m1 = Date.now();
    measure(`migrate killed at the edge switch after ${((k - m0) / 1000).toFixed(1)} s; the re-run finished in ${((m1 - k) / 1000).toFixed(1)} s`);
    await sleep(3000);
    const samples = await asking.stop();
    expect(r.code, r.stderr).toBe(0);
    const report = (JSON.parse(r.stdout) as { migration: { to: string; unavailable: { seconds: number } | null; edgeProxies: string[] | null } }).migration;
    expect(report.to).toBe(vm2.name);
    expect(report.edgeProxies).toEqual(["lab-edge"]);
    // what a visitor saw: the maintenance page while the data moved (planned, 503), and
    // errors — anything else that was not 200 (no route, a 502, a refused connection)
    const during = samples.filter((s) => s.at >= m0);
    const maintenance = during.filter((s) => s.status === 503);
    const errors = during.filter((s) => !s.ok && s.status !== 503);
    const span = (xs: typeof samples) => (xs.length ? (xs[xs.length - 1]!.at - xs[0]!.at) / 1000 : 0);
    measure(
      `migrate ${A} lab-1 → lab-2: ${((m1 - m0) / 1000).toFixed(1)} s; btw reports unavailable ${report.unavailable?.seconds ?? "?"} s; ` +
        `${during.length} requests through the edge: ${maintenance.length} maintenance (503) over ${span(maintenance).toFixed(1)} s, ` +
        `${errors.length} errors over ${span(errors).toFixed(1)} s${errors.length ? ` (${[...new Set(errors.map((e) => String(e.status)))].join(", ")})` : ""}; ` +
        `longest answer ${(Math.max(0, ...during.map((s) => s.ms)) / 1000).toFixed(1)} s`,
    );
    expect(report.unavailable).not.toBeNull();
    // on one line, each error's time after the start, kill and re-run (CI of fa0c534 showed only the span)
    const when = (t: number) => `+${((t - m0) / 1000).toFixed(1)}s`;
    const errorLog = `kill ${when(k)}, re-run done ${when(m1)}; errors: ${errors.map((e) => `${when(e.at)} ${String(e.status).slice(0, 60)} (${e.ms} ms)`).join("; ")}`;
    expect(span(errors), `errors beyond the maintenance page: ${errorLog}`).toBeLessThan(5);
    // after the cutover: 200s again, served from lab-2 (the edge's upstream), the name unchanged
    expect(samples.slice(-5).every((s) => s.ok), JSON.stringify(samples.slice(-5))).toBe(true);
    const table = (await onVm(edgeLab.edge, ["cat", "/opt/btw/proxy/conf/Caddyfile"])).stdout;
    const site = table.slice(table.indexOf(`https://${hostOf(A)}`));
    expect(site.slice(0, site.indexOf("\n}"))).toContain(`reverse_proxy ${edgeLab.privateAddresses[vm2.name]}:80`);
    expect((await onVm(vm1, ["docker", "ps", "--filter", `name=btw-${A}-n8n`, "--filter", "status=running", "-q"])).stdout.trim()).toBe("");
    expect((await viaEdge(hostOf(A))).status).toBe(200);
    // a delete takes the name off the edge
    await must(["tenant", "delete", B, "--purge", "--no-final-backup", "--yes"]);
    await expect(viaEdge(hostOf(B))).rejects.toThrow();
    const after = JSON.parse((await btw(["status", "--json"])).stdout) as { edge: Array<{ drift: string }> };
    expect(after.edge[0]!.drift).toBe("in-sync");
  });
});
