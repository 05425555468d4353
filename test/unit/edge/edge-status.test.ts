import { describe, expect, it } from "vitest";
import { renderEdgeCaddyfile, type EdgeCaddyfileInput } from "../../../src/core/edge/caddyfile.js";
import { describeRouteDiff, diffEdgeRoutes, judgeEdgeProxy, noEdgeProxies, parseEdgeSites, type EdgeProbe } from "../../../src/core/edge/status.js";

const input: EdgeCaddyfileInput = {
  domain: "example.com",
  trustedProxies: ["10.0.0.0/16"],
  routes: [
    { slug: "acme", server: "btw-1", upstream: "10.0.1.11", extraHosts: ["n8n.acme.test"] },
    { slug: "beta", server: "btw-1", upstream: "10.0.1.11" },
    { slug: "zeta", server: "btw-2", upstream: "10.0.1.12" },
  ],
};
const wanted = renderEdgeCaddyfile(input);

const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: "" });
const RUNNING = ok('{"Status":"running","Running":true,"Health":{"Status":"healthy","FailingStreak":0}}\n');

/** A reachable proxy whose container runs, answers its health check and has `caddyfile` installed. */
function probe(over: Partial<EdgeProbe> = {}, caddyfile = wanted): EdgeProbe {
  return { proxy: "edge-1", address: "10.0.0.3", sshError: null, container: RUNNING, health: ok("ok"), caddyfile: ok(caddyfile), ...over };
}

describe("parseEdgeSites", () => {
  it("maps every host of every site to its upstream, leaving out the global options and the catch-all health site", () => {
    expect(parseEdgeSites(wanted)).toEqual(
      new Map([
        ["acme.example.com", "10.0.1.11:80"],
        ["n8n.acme.test", "10.0.1.11:80"],
        ["beta.example.com", "10.0.1.11:80"],
        ["zeta.example.com", "10.0.1.12:80"],
      ]),
    );
  });

  it("reads https:// sites with `tls internal` (edge.tls internal) the same way", () => {
    const text = renderEdgeCaddyfile({ ...input, tls: "internal" });
    expect(text).toContain("https://acme.example.com, https://n8n.acme.test {");
    expect(parseEdgeSites(text)).toEqual(parseEdgeSites(wanted));
  });

  it("a site without reverse_proxy routes nowhere (null); an empty file routes nothing", () => {
    expect(parseEdgeSites('http://x.example.com {\n\trespond "hi"\n}\n')).toEqual(new Map([["x.example.com", null]]));
    expect(parseEdgeSites("")).toEqual(new Map());
  });
});

describe("diffEdgeRoutes", () => {
  it("lists hosts missing at the proxy, extra at the proxy, and routed to another upstream", () => {
    const want = new Map([
      ["a.example.com", "10.0.1.11:80"],
      ["b.example.com", "10.0.1.12:80"],
      ["c.example.com", "10.0.1.11:80"],
    ]);
    const have = new Map([
      ["b.example.com", "10.0.1.11:80"],
      ["c.example.com", "10.0.1.11:80"],
      ["old.example.com", "10.0.1.11:80"],
    ]);
    const d = diffEdgeRoutes(want, have);
    expect(d).toEqual({ missing: ["a.example.com"], extra: ["old.example.com"], moved: [{ host: "b.example.com", have: "10.0.1.11:80", want: "10.0.1.12:80" }] });
    expect(describeRouteDiff(d)).toBe("1 host missing (a.example.com); 1 host not in the state (old.example.com); 1 host routed elsewhere (b.example.com → 10.0.1.11:80, state: 10.0.1.12:80)");
  });

  it("names three hosts and counts the rest", () => {
    const want = new Map(["a", "b", "c", "d", "e"].map((h) => [`${h}.example.com`, "10.0.1.11:80"]));
    expect(describeRouteDiff(diffEdgeRoutes(want, new Map()))).toBe("5 hosts missing (a.example.com, b.example.com, c.example.com and 2 more)");
  });
});

describe("judgeEdgeProxy: routes", () => {
  it("the installed table is the state's, byte for byte: in sync and ok", () => {
    expect(judgeEdgeProxy(probe(), { text: wanted })).toEqual({
      proxy: "edge-1",
      address: "10.0.0.3",
      reachable: true,
      health: "healthy",
      running: true,
      container: "running (healthy)",
      healthy: true,
      drift: "in-sync",
      routes: null,
      detail: null,
      ok: true,
    });
  });

  it("a migration whose edge switch did not land: the tenant's host still goes to its old server", () => {
    const before = renderEdgeCaddyfile({ ...input, routes: input.routes.map((r) => (r.slug === "zeta" ? { ...r, server: "btw-1", upstream: "10.0.1.11" } : r)) });
    const s = judgeEdgeProxy(probe({}, before), { text: wanted });
    expect(s.drift).toBe("drift");
    expect(s.ok).toBe(false);
    expect(s.healthy).toBe(true);
    expect(s.routes).toEqual({ missing: [], extra: [], moved: [{ host: "zeta.example.com", have: "10.0.1.11:80", want: "10.0.1.12:80" }] });
    expect(s.detail).toBe("1 host routed elsewhere (zeta.example.com → 10.0.1.11:80, state: 10.0.1.12:80): `btw edge sync`");
  });

  it("a tenant created (missing) and one deleted (extra) since the proxy's last sync", () => {
    const installed = renderEdgeCaddyfile({ ...input, routes: [...input.routes.filter((r) => r.slug !== "beta"), { slug: "gone", server: "btw-2", upstream: "10.0.1.12" }] });
    const s = judgeEdgeProxy(probe({}, installed), { text: wanted });
    expect(s.drift).toBe("drift");
    expect(s.routes).toEqual({ missing: ["beta.example.com"], extra: ["gone.example.com"], moved: [] });
  });

  it("same routes with other settings (edge.tls changed, not synced yet) is still drift", () => {
    const s = judgeEdgeProxy(probe({}, wanted), { text: renderEdgeCaddyfile({ ...input, tls: "internal" }) });
    expect(s.drift).toBe("drift");
    expect(s.routes).toEqual({ missing: [], extra: [], moved: [] });
    expect(s.detail).toBe("same routes, other settings differ: `btw edge sync`");
  });

  it("no Caddyfile installed: missing; another read failure or an unrenderable state: unknown", () => {
    const missing = judgeEdgeProxy(probe({ caddyfile: { exitCode: 1, stdout: "", stderr: "cat: /opt/btw/proxy/conf/Caddyfile: No such file or directory\n" } }), { text: wanted });
    expect([missing.drift, missing.ok, missing.detail]).toEqual(["missing", false, "no Caddyfile installed: `btw edge sync`"]);
    const denied = judgeEdgeProxy(probe({ caddyfile: { exitCode: 1, stdout: "", stderr: "cat: /opt/btw/proxy/conf/Caddyfile: Permission denied\n" } }), { text: wanted });
    expect([denied.drift, denied.detail]).toEqual(["unknown", "cannot read its Caddyfile: cat: /opt/btw/proxy/conf/Caddyfile: Permission denied"]);
    const timedOut = judgeEdgeProxy(probe({ caddyfile: { error: "remote command 'cat' timed out after 15s" } }), { text: wanted });
    expect(timedOut.drift).toBe("unknown");
    const noState = judgeEdgeProxy(probe(), { error: "host a.example.com is routed to both a and b" });
    expect([noState.drift, noState.ok, noState.detail]).toEqual(["unknown", false, "cannot render the state's table: host a.example.com is routed to both a and b"]);
  });
});

describe("judgeEdgeProxy: health", () => {
  it("unreachable over SSH: nothing else is known, and it is not ok", () => {
    const s = judgeEdgeProxy({ proxy: "edge-2", address: "10.0.0.4", sshError: "cannot reach server 'edge-2' at 10.0.0.4:22: connection timed out\nmore" }, { text: wanted });
    expect(s).toEqual({
      proxy: "edge-2",
      address: "10.0.0.4",
      reachable: false,
      health: "UNREACHABLE",
      running: null,
      container: null,
      healthy: null,
      drift: "unknown",
      routes: null,
      detail: "cannot reach server 'edge-2' at 10.0.0.4:22: connection timed out",
      ok: false,
    });
  });

  it("no btw-proxy container", () => {
    const s = judgeEdgeProxy(probe({ container: { exitCode: 1, stdout: "", stderr: "Error: No such container: btw-proxy\n" }, health: { exitCode: 1, stdout: "", stderr: "Error response from daemon: No such container: btw-proxy" } }), { text: wanted });
    expect([s.health, s.running, s.healthy, s.ok, s.drift]).toEqual(["no container", false, false, false, "in-sync"]);
    expect(s.detail).toBe("no btw-proxy container");
  });

  it("a stopped container", () => {
    const s = judgeEdgeProxy(probe({ container: ok('{"Status":"exited","Running":false}') }), { text: wanted });
    expect([s.health, s.running, s.container, s.healthy, s.detail]).toEqual(["stopped", false, "exited", false, "btw-proxy is not running (exited)"]);
  });

  it("running but the health check fails (wget's error), or answers something else than ok", () => {
    const failed = judgeEdgeProxy(probe({ health: { exitCode: 1, stdout: "", stderr: "wget: server returned error: HTTP/1.1 404 Not Found\n" } }), { text: wanted });
    expect([failed.health, failed.healthy, failed.ok, failed.detail]).toEqual(["UNHEALTHY", false, false, "health check failed: wget: server returned error: HTTP/1.1 404 Not Found"]);
    const other = judgeEdgeProxy(probe({ health: ok("Not found") }), { text: wanted });
    expect([other.healthy, other.detail]).toEqual([false, 'health check failed: answered "Not found"']);
  });

  it("Docker's healthcheck says unhealthy even though port 80 answers: unhealthy", () => {
    const s = judgeEdgeProxy(probe({ container: ok('{"Status":"running","Health":{"Status":"unhealthy"}}') }), { text: wanted });
    expect([s.health, s.container, s.healthy, s.ok]).toEqual(["UNHEALTHY", "running (unhealthy)", false, false]);
  });

  it("a container without a healthcheck that answers is healthy", () => {
    const s = judgeEdgeProxy(probe({ container: ok('{"Status":"running","Running":true}') }), { text: wanted });
    expect([s.health, s.container, s.ok]).toEqual(["healthy", "running", true]);
  });

  it("unhealthy and drifted: both said, health first", () => {
    const s = judgeEdgeProxy(probe({ health: { error: "timed out" } }, ""), { text: wanted });
    expect(s.detail).toBe("health check failed: timed out; 4 hosts missing (acme.example.com, beta.example.com, n8n.acme.test and 1 more): `btw edge sync`");
  });

  it("no edge proxies to list: one row saying why", () => {
    expect(noEdgeProxies("no edge servers in the Terraform state", "run `btw infra apply`")).toMatchObject({
      proxy: "(none)",
      reachable: false,
      ok: false,
      detail: "cannot list the edge proxies: no edge servers in the Terraform state (run `btw infra apply`)",
    });
    // a many-line message stays on its row
    expect(noEdgeProxies("the infra config has 2 problems:\n  - a\n  - b\n").detail).toBe("cannot list the edge proxies: the infra config has 2 problems: - a - b");
  });
});
