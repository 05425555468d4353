import { describe, expect, it } from "vitest";
import { MAINTENANCE_PAGE, renderCaddyfile, type CaddyfileInput } from "../../../src/core/proxy/caddyfile.js";
import { edgeGateway } from "../../../src/core/tenant/edge-gateway.js";
import { UsageError } from "../../../src/errors.js";

const MAINTENANCE = [
  "(maintenance) {",
  "\theader Retry-After 3600",
  "\theader Cache-Control no-store",
  '\theader Content-Type "text/html; charset=utf-8"',
  `\trespond \`${MAINTENANCE_PAGE}\` 503`,
  "}",
].join("\n");

const CATCH_ALL = ["# Unknown hosts.", "http:// {", '\trespond "Not found" 404', "}"].join("\n");

// where TLS ends here (a bare host: automatic HTTPS): TLS 1.2 at least, 1.3 preferred, HSTS on the platform's name
const tlsPolicy = (address: string): string[] =>
  address.startsWith("http://") ? [] : ["\ttls {", "\t\tprotocols tls1.2 tls1.3", "\t}", `\t@platform host ${address}`, '\theader @platform Strict-Transport-Security "max-age=31536000"'];
const active = (address: string, slug: string): string =>
  [
    `${address} {`,
    ...tlsPolicy(address),
    // n8n's internal endpoints are refused on the public site (respond runs before reverse_proxy)
    "\t@internal path /metrics /metrics/*",
    '\trespond @internal "Not found" 404',
    `\treverse_proxy n8n-${slug}:5678 {`,
    "\t\tlb_try_duration 5s",
    "\t\ttransport http {",
    "\t\t\tdial_timeout 3s",
    "\t\t}",
    "\t}",
    "}",
  ].join("\n");

const tenants: CaddyfileInput["tenants"] = [
  { slug: "zeta", status: "active" },
  { slug: "acme", status: "active" },
  { slug: "beta", status: "suspended" },
];

/** a server's metrics token, as btw generates it (32 random bytes, hex) */
const TOKEN = "0123456789abcdef".repeat(4);

describe("renderCaddyfile: the metrics listener", () => {
  it("serves each active tenant's n8n /metrics at /tenants/<name>/metrics on its own port to the holder of the server's token, 401 for the rest; suspended tenants not at all", () => {
    const text = renderCaddyfile({ tls: "auto", domain: "example.com", metrics: { port: 9180, token: TOKEN, denyFrom: ["10.220.0.0/16"] }, tenants: [{ slug: "beta", status: "suspended" }, { slug: "acme", status: "active" }] });
    expect(text).toContain(
      [
        "# Tenants' n8n metrics for Prometheus (published on the private address only).",
        "http://:9180 {",
        // route: in this order; each tenant's path is a handle of its own btw state's file
        // (sites/<state id>.metrics, imported here), with that state's token; checked against
        // Caddy 2.6.2 (public-listeners.test.ts): 403 from a denied address, 401 without the
        // token, proxied for /tenants/acme/metrics, 401 for anything else (no name learnt without a token)
        "\troute {",
        "\t\thandle /tenants/acme/metrics {",
        // the proxy is on every tenant's edge network: tenants may not read each other's metrics
        "\t\t\t@tenants remote_ip 10.220.0.0/16",
        // Prometheus presents the server's token; an address proves nothing
        `\t\t\t@unauthenticated not header Authorization "Bearer ${TOKEN}"`,
        "\t\t\troute {",
        '\t\t\t\trespond @tenants "Forbidden" 403',
        '\t\t\t\trespond @unauthenticated "Unauthorized" 401',
        "\t\t\t\trewrite * /metrics",
        // the token is not passed on to the tenant's n8n
        "\t\t\t\treverse_proxy n8n-acme:5678 {",
        "\t\t\t\t\theader_up -Authorization",
        "\t\t\t\t}",
        "\t\t\t}",
        "\t\t}",
        '\t\trespond "Unauthorized" 401',
        "\t}",
        "}",
      ].join("\n"),
    );
    expect(text).not.toContain("/tenants/beta/");
    // no public site serves /metrics
    expect(text.split("http://:9180 {")[0]).not.toContain("metrics {");
  });

  it("lets the tenants' edge gateways through the deny (Docker masquerades a co-located Prometheus behind them); they still need the token", () => {
    const text = renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }], metrics: { port: 9180, token: TOKEN, denyFrom: ["10.220.0.0/16"], allowFrom: ["10.220.0.9/32", "10.220.0.25/32"] } });
    expect(text).toContain(["\t\t\t@tenants {", "\t\t\t\tremote_ip 10.220.0.0/16", "\t\t\t\tnot remote_ip 10.220.0.9/32 10.220.0.25/32", "\t\t\t}", `\t\t\t@unauthenticated not header Authorization "Bearer ${TOKEN}"`, "\t\t\troute {"].join("\n"));
    expect(() => renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [], metrics: { port: 9180, token: TOKEN, denyFrom: ["10.0.0.0/8"], allowFrom: ["10.0.0.1 }"] } })).toThrow(UsageError);
  });

  it("edgeGateway: the first address of the tenant block's upper (edge) half", () => {
    expect(edgeGateway("10.220.0.0/28")).toBe("10.220.0.9/32");
    expect(edgeGateway("10.220.1.16/28")).toBe("10.220.1.25/32");
  });

  it("refuses a deny list that is not CIDRs (it is spliced into the file)", () => {
    expect(() => renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [], metrics: { port: 9180, token: TOKEN, denyFrom: ["10.0.0.0/8 }"] } })).toThrow(UsageError);
  });

  it("refuses a token that could end its quoted value or is too short to be one, without echoing it", () => {
    for (const token of ['x" }\n:80 {', "short", "", `${TOKEN} `]) {
      const err = (() => {
        try {
          renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [], metrics: { port: 9180, token, denyFrom: [] } });
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(UsageError);
      if (token) expect(err!.message).not.toContain(token.trim());
    }
  });

  it("is absent unless asked for", () => {
    expect(renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }] })).not.toContain(":9180");
  });
});

describe("renderCaddyfile: nothing internal on a public site", () => {
  it("every active tenant's site refuses /metrics and below; /healthz stays routed", () => {
    const text = renderCaddyfile({ tls: "auto", domain: "example.com", tenants: [{ slug: "acme", status: "active" }, { slug: "zeta", status: "active" }] });
    const sites = text.split("\n\n").filter((b) => /^(acme|zeta)\.example\.com \{/.test(b));
    expect(sites).toHaveLength(2);
    for (const site of sites) {
      expect(site).toContain('\t@internal path /metrics /metrics/*\n\trespond @internal "Not found" 404\n\treverse_proxy');
      expect(site).not.toContain("healthz");
    }
  });

  it("behind the edge: plain HTTP sites that trust the edge proxies' X-Forwarded-* headers (only theirs: forwarded-for.test.ts)", () => {
    const text = renderCaddyfile({ tls: "off", domain: "example.com", tenants: [{ slug: "acme", status: "active" }], trustedProxies: ["10.0.1.3/32"] });
    expect(text).toContain(["{", "\tadmin localhost:2019", "\tauto_https off", "}"].join("\n"));
    expect(text).toContain("\treverse_proxy @trusted n8n-acme:5678 {\n\t\ttrusted_proxies 10.0.1.3/32\n\t\theader_up X-Forwarded-For {http.request.header.X-Forwarded-For}\n\t\tlb_try_duration 5s");
    expect(text).toContain("http://acme.example.com {");
  });

  it("refuses trusted proxies that are not CIDRs (spliced into the file)", () => {
    expect(() => renderCaddyfile({ tls: "off", domain: "example.com", tenants: [], trustedProxies: ["10.0.0.0/16 }"] })).toThrow(UsageError);
  });
});

describe("renderCaddyfile", () => {
  it("tls auto: bare host sites (automatic HTTPS), the ACME email, sorted by tenant", () => {
    expect(renderCaddyfile({ tls: "auto", acmeEmail: "ops@example.com", domain: "example.com", tenants })).toBe(
      [
        [
          "# btw proxy: rendered from the state (3 tenants, 2 active, 1 suspended).",
          "# btw rewrites this file on every route change; edits are lost.",
          "{",
          "\tadmin localhost:2019",
          "\temail ops@example.com",
          "}",
        ].join("\n"),
        MAINTENANCE,
        active("acme.example.com", "acme"),
        ["beta.example.com {", ...tlsPolicy("beta.example.com"), "\timport maintenance", "}"].join("\n"),
        active("zeta.example.com", "zeta"),
        CATCH_ALL,
      ].join("\n\n") + "\n",
    );
  });

  it("tls off: http:// sites and automatic HTTPS off (labs)", () => {
    expect(renderCaddyfile({ tls: "off", domain: "lab.test", tenants })).toBe(
      [
        [
          "# btw proxy: rendered from the state (3 tenants, 2 active, 1 suspended).",
          "# btw rewrites this file on every route change; edits are lost.",
          "{",
          "\tadmin localhost:2019",
          "\tauto_https off",
          "}",
        ].join("\n"),
        MAINTENANCE,
        active("http://acme.lab.test", "acme"),
        ["http://beta.lab.test {", "\timport maintenance", "}"].join("\n"),
        active("http://zeta.lab.test", "zeta"),
        CATCH_ALL,
      ].join("\n\n") + "\n",
    );
  });

  it("tls auto without an email: no email line", () => {
    expect(renderCaddyfile({ tls: "auto", domain: "example.com", tenants: [] })).toBe(
      [
        [
          "# btw proxy: rendered from the state (0 tenants, 0 active, 0 suspended).",
          "# btw rewrites this file on every route change; edits are lost.",
          "{",
          "\tadmin localhost:2019",
          "}",
        ].join("\n"),
        MAINTENANCE,
        CATCH_ALL,
      ].join("\n\n") + "\n",
    );
  });

  it("the same tenants in any order give the same bytes", () => {
    const a = renderCaddyfile({ tls: "off", domain: "lab.test", tenants });
    const b = renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [...tenants].reverse() });
    expect(b).toBe(a);
  });

  it("the maintenance page has nothing Caddy would read as a placeholder or token end", () => {
    expect(MAINTENANCE_PAGE).not.toMatch(/[{}`]/);
  });

  it.each([
    [{ domain: "Example.com" }, "invalid-domain"],
    [{ domain: "example.com {\n}" }, "invalid-domain"],
    [{ acmeEmail: "ops@example.com\n}" }, "invalid-acme-email"],
    [{ acmeEmail: "not an email" }, "invalid-acme-email"],
    [{ tenants: [{ slug: "a b", status: "active" }] }, "invalid-tenant-name"],
    [{ tenants: [{ slug: "acme", status: "provisioning" }] }, "invalid-route"],
    [{ tenants: [{ slug: "acme", status: "active" }, { slug: "acme", status: "suspended" }] }, "invalid-route"],
    [{ tls: "on" }, "invalid-proxy-tls"],
  ])("refuses %j", (override, code) => {
    const input = { tls: "auto", domain: "example.com", tenants: [], ...override } as CaddyfileInput;
    expect(() => renderCaddyfile(input)).toThrow(UsageError);
    expect(() => renderCaddyfile(input)).toThrow(expect.objectContaining({ code }));
  });
});
