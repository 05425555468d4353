import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EDGE_HEALTH_PATH, edgeRoutes, renderEdgeCaddyfile, type EdgeCaddyfileInput } from "../../../src/core/edge/caddyfile.js";
import { UsageError } from "../../../src/errors.js";
import { findCaddy, run } from "../tenant/external-tools.js";

const options = ["\t\tlb_try_duration 20s", "\t\ttransport http {", "\t\t\tdial_timeout 3s", "\t\t}", "\t}"];
// the load balancer's requests keep their X-Forwarded-*; anyone else's are replaced (forwarded-for.test.ts)
// HSTS on the platform's name only (the first host); a customer's domain is the customer's to pin
const site = (hosts: string, upstream: string): string =>
  [
    `${hosts} {`,
    `\t@platform host ${hosts.split(", ")[0]!.replace("http://", "")}`,
    '\theader @platform Strict-Transport-Security "max-age=31536000"',
    "\t@internal path /metrics /metrics/*",
    '\trespond @internal "Not found" 404',
    "\t@trusted remote_ip 10.0.1.2/32",
    `\treverse_proxy @trusted ${upstream} {`,
    "\t\ttrusted_proxies 10.0.1.2/32",
    "\t\theader_up X-Forwarded-For {http.request.header.X-Forwarded-For}",
    ...options,
    `\treverse_proxy ${upstream} {`,
    ...options,
    "}",
  ].join("\n");

const input: EdgeCaddyfileInput = {
  domain: "example.com",
  trustedProxies: ["10.0.1.2/32"],
  routes: [
    { slug: "zeta", server: "btw-2", upstream: "10.0.1.12" },
    { slug: "acme", server: "btw-1", upstream: "10.0.1.11", extraHosts: ["n8n.acme.test", "automation.acme.test"] },
  ],
};

describe("renderEdgeCaddyfile", () => {
  it("routes each tenant's host (and its custom domains) to its server's private address over HTTP, sorted; health check and 404 last", () => {
    expect(renderEdgeCaddyfile(input)).toBe(
      [
        [
          "# btw edge: rendered from the state (2 tenants on 2 servers).",
          "# btw rewrites this file on every route change; edits are lost.",
          "{",
          "\tadmin localhost:2019",
          "\tauto_https off",
          "}",
        ].join("\n"),
        site("http://acme.example.com, http://automation.acme.test, http://n8n.acme.test", "10.0.1.11:80"),
        site("http://zeta.example.com", "10.0.1.12:80"),
        [
          "# The load balancer's health check; any other host is unknown.",
          "http:// {",
          "\troute {",
          '\t\trespond /btw-edge-health "ok" 200',
          '\t\trespond "Not found" 404',
          "\t}",
          "}",
        ].join("\n"),
      ].join("\n\n") + "\n",
    );
  });

  it("the same routes in any order give the same bytes (no reload when nothing changed)", () => {
    expect(renderEdgeCaddyfile({ ...input, routes: [...input.routes].reverse() })).toBe(renderEdgeCaddyfile(input));
  });

  it("an IPv6 private address is bracketed", () => {
    expect(renderEdgeCaddyfile({ ...input, routes: [{ slug: "acme", server: "btw-1", upstream: "fd00::11" }] })).toContain("reverse_proxy [fd00::11]:80 {");
  });

  it.each([
    [{ domain: "Example.com" }, "invalid-domain"],
    [{ routes: [{ slug: "a b", server: "btw-1", upstream: "10.0.1.11" }] }, "invalid-tenant-name"],
    [{ routes: [{ slug: "acme", server: "btw-1", upstream: "10.0.1.11 {" }] }, "invalid-route"],
    [{ routes: [{ slug: "acme", server: "btw-1", upstream: "n8n-acme" }] }, "invalid-route"],
    [{ routes: [{ slug: "acme", server: "btw-1", upstream: "10.0.1.11", extraHosts: ["x.test {"] }] }, "invalid-route"],
    [
      {
        routes: [
          { slug: "acme", server: "btw-1", upstream: "10.0.1.11", extraHosts: ["shop.test"] },
          { slug: "beta", server: "btw-2", upstream: "10.0.1.12", extraHosts: ["shop.test"] },
        ],
      },
      "invalid-route",
    ],
    [{ routes: [{ slug: "acme", server: "btw-1", upstream: "10.0.1.11", extraHosts: ["beta.example.com"] }, { slug: "beta", server: "btw-2", upstream: "10.0.1.12" }] }, "invalid-route"],
    [{ trustedProxies: ["10.0.0.0/16 }"] }, "invalid-cidr"],
  ] as const)("refuses %j", (override, code) => {
    const bad = { ...input, ...override } as EdgeCaddyfileInput;
    expect(() => renderEdgeCaddyfile(bad)).toThrow(UsageError);
    expect(() => renderEdgeCaddyfile(bad)).toThrow(expect.objectContaining({ code }));
  });
});

describe("edgeRoutes: the routing table from the state", () => {
  const servers = [
    { id: 1, name: "btw-1", privateAddress: "10.0.1.11" },
    { id: 2, name: "btw-2", privateAddress: "10.0.1.12" },
    { id: 3, name: "old-box", privateAddress: null },
  ];

  it("routes tenants whose server's proxy answers for them (maintenance included) to that server; skips failed and deleted ones", () => {
    const { routes, unroutable } = edgeRoutes(
      [
        { slug: "acme", status: "active", serverId: 1 },
        { slug: "beta", status: "migrating", serverId: 2 },
        { slug: "gamma", status: "suspended", serverId: 1, extraHosts: ["n8n.gamma.test"] },
        { slug: "delta", status: "deleted", serverId: 1 },
        { slug: "eps", status: "failed", serverId: 2 },
        { slug: "new", status: "provisioning", serverId: 2 },
        { slug: "lost", status: "active", serverId: 3 },
        { slug: "orphan", status: "active", serverId: null },
      ],
      servers,
    );
    expect(routes).toEqual([
      { slug: "acme", server: "btw-1", upstream: "10.0.1.11" },
      { slug: "beta", server: "btw-2", upstream: "10.0.1.12" },
      { slug: "gamma", server: "btw-1", upstream: "10.0.1.11", extraHosts: ["n8n.gamma.test"] },
      { slug: "new", server: "btw-2", upstream: "10.0.1.12" },
    ]);
    expect(unroutable).toEqual(["lost", "orphan"]);
  });

  it("a migrated tenant's route follows its row's server: cutover is a re-render, no DNS change", () => {
    const before = renderEdgeCaddyfile({ domain: "example.com", trustedProxies: [], routes: edgeRoutes([{ slug: "acme", status: "active", serverId: 1 }], servers).routes });
    const after = renderEdgeCaddyfile({ domain: "example.com", trustedProxies: [], routes: edgeRoutes([{ slug: "acme", status: "active", serverId: 2 }], servers).routes });
    expect(before).toContain("reverse_proxy 10.0.1.11:80 {");
    expect(after).toContain("reverse_proxy 10.0.1.12:80 {");
    expect(after.replace("10.0.1.12", "10.0.1.11")).toBe(before);
  });
});

const caddyBin = findCaddy();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("edge.tls internal", () => {
  const text = renderEdgeCaddyfile({ ...input, tls: "internal" });
  it("serves every route over HTTPS with a certificate from Caddy's own CA, nothing in the host's trust store", () => {
    expect(text).toContain("\tskip_install_trust\n");
    expect(text).not.toContain("auto_https off");
    // TLS 1.2 at least, 1.3 preferred; HSTS for the platform's name, not the customer's domains
    for (const r of input.routes) {
      expect(text).toMatch(new RegExp(`^https://${r.slug}\\.example\\.com.* \\{\\n\\ttls internal \\{\\n\\t\\tprotocols tls1.2 tls1.3\\n\\t\\}\\n\\t@platform host ${r.slug}\\.example\\.com\\n\\theader @platform Strict-Transport-Security "max-age=31536000"\\n`, "m"));
    }
    expect(text).not.toMatch(/@platform host .*acme\.test/);
    expect(text).not.toMatch(/^http:\/\/\w/m);
  });
  it("keeps the health check on plain HTTP and redirects the rest to HTTPS", () => {
    const health = text.slice(text.indexOf("http:// {"));
    expect(health).toContain(`respond ${EDGE_HEALTH_PATH} "ok" 200`);
    expect(health).toContain("redir https://{host}{uri} 308");
  });
  it("refuses an unknown value", () => {
    expect(() => renderEdgeCaddyfile({ ...input, tls: "acme" as "internal" })).toThrow(expect.objectContaining({ code: "invalid-edge-tls" }));
  });
});

describe("the edge Caddyfile through real Caddy", () => {
  it.each([
    ["routes", input],
    ["empty (first boot)", { domain: "example.com", trustedProxies: ["10.0.0.0/16"], routes: [] }],
    ["TLS at the edge (edge.tls internal)", { ...input, tls: "internal" }],
  ] as const)("%s: already `caddy fmt` formatted; adapts and validates without warnings", (_name, value) => {
    if (caddyBin === null) throw new Error("Caddy (BTW_CADDY_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
    const dir = mkdtempSync(join(tmpdir(), "btw-edge-"));
    dirs.push(dir);
    const file = join(dir, "Caddyfile");
    writeFileSync(file, renderEdgeCaddyfile(value));
    expect(run([caddyBin, "fmt", file]).stdout).toBe(readFileSync(file, "utf8"));
    const adapt = run([caddyBin, "adapt", "--config", file, "--adapter", "caddyfile"]);
    expect([adapt.status, adapt.stderr]).toEqual([0, ""]);
    const servers = Object.values(JSON.parse(adapt.stdout).apps.http.servers) as Array<{ listen: string[] }>;
    expect(servers.map((s) => s.listen).sort()).toEqual(("tls" in value && value.tls === "internal") ? [[":443"], [":80"]] : [[":80"]]);
    const valid = run([caddyBin, "validate", "--config", file, "--adapter", "caddyfile"], { cwd: dir, env: { XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
    expect([valid.status, valid.stdout.trim().split("\n").at(-1)]).toEqual([0, "Valid configuration"]);
  });
});
