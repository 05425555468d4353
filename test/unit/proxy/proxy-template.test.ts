// templates/proxy/compose.yml (static rules, then real Compose when available) and the
// rendered Caddyfile through a real Caddy (adapt, fmt, validate: no network, no ports).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderCaddyfile, type CaddyfileInput } from "../../../src/core/proxy/caddyfile.js";
import { renderProxyEnv } from "../../../src/core/proxy/env.js";
import { PROXY_LAYOUT } from "../../../src/core/proxy/layout.js";
import { findCaddy, findCompose, run } from "../tenant/external-tools.js";

const TEMPLATE = join(import.meta.dirname, "../../../templates/proxy/compose.yml");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const doc = parse(readFileSync(TEMPLATE, "utf8")) as any;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "btw-proxy-"));
  dirs.push(d);
  return d;
}

describe("templates/proxy/compose.yml", () => {
  const caddy = doc.services.caddy;

  it("is one container named as the layout says, publishing only 80 and 443", () => {
    expect(Object.keys(doc.services)).toEqual(["caddy"]);
    expect(caddy.container_name).toBe(PROXY_LAYOUT.container);
    // 80/443 on every address unless .env names one (behind the edge: the private address);
    // + the metrics listener, on the address .env gives (the private one), loopback by default
    expect(caddy.ports).toEqual(["80:80", "443:443", "443:443/udp", "${METRICS_PUBLISH:-127.0.0.1:9180}:9180"]);
  });

  it("mounts the conf directory read-only (a single-file mount would miss atomic renames)", () => {
    expect(caddy.volumes).toEqual(["./conf:/etc/caddy:ro", "data:/data", "config:/config"]);
    expect(PROXY_LAYOUT.confDir).toBe(`${PROXY_LAYOUT.dir}/conf`);
    expect(caddy.command).toEqual(["caddy", "run", "--config", PROXY_LAYOUT.inContainer.caddyfile, "--adapter", "caddyfile"]);
  });

  it("restarts, checks health, rotates logs, is limited", () => {
    expect([caddy.restart, caddy.logging.driver, caddy.security_opt, Object.keys(caddy.deploy.resources.limits)]).toEqual([
      "unless-stopped",
      "json-file",
      ["no-new-privileges:true"],
      ["cpus", "memory", "pids"],
    ]);
    expect(caddy.healthcheck.test[0]).toBe("CMD-SHELL");
  });

  it("names its network and volumes as the layout says", () => {
    expect([doc.networks.default.name, doc.volumes.data.name, doc.volumes.config.name]).toEqual([
      PROXY_LAYOUT.network,
      PROXY_LAYOUT.volumes.data,
      PROXY_LAYOUT.volumes.config,
    ]);
  });
});

const compose = findCompose();
describe("proxy compose.yml through real Compose", () => {
  beforeAll(() => {
    // never skipped: `npm test` extracts the tool from the lab images (scripts/tool-binaries.sh)
    if (compose === null) throw new Error("Compose v2 (BTW_COMPOSE_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
  });
  it("resolves with the rendered .env: image, ports, the conf mount under the project directory", () => {
    const dir = tempDir();
    copyFileSync(TEMPLATE, join(dir, "compose.yml"));
    writeFileSync(join(dir, ".env"), renderProxyEnv({ caddyImage: "caddy:2.10.2" }));
    const r = run([...(compose as string[]), "-p", "btw-proxy", "--project-directory", dir, "-f", join(dir, "compose.yml"), "--env-file", join(dir, ".env"), "config", "--format", "json"]);
    expect(r.stderr).toBe("");
    const svc = JSON.parse(r.stdout).services.caddy;
    expect(svc.image).toBe("caddy:2.10.2");
    expect(svc.ports.map((p: { published: string; target: number; protocol: string }) => `${p.published}:${p.target}/${p.protocol}`)).toEqual([
      "80:80/tcp",
      "443:443/tcp",
      "443:443/udp",
      "9180:9180/tcp",
    ]);
    expect(svc.ports.at(-1).host_ip).toBe("127.0.0.1");
    writeFileSync(join(dir, ".env"), renderProxyEnv({ caddyImage: "caddy:2.10.2", metricsPublish: "10.0.1.2:9180" }));
    const priv = run([...(compose as string[]), "-p", "btw-proxy", "--project-directory", dir, "-f", join(dir, "compose.yml"), "--env-file", join(dir, ".env"), "config", "--format", "json"]);
    expect(JSON.parse(priv.stdout).services.caddy.ports.at(-1)).toMatchObject({ host_ip: "10.0.1.2", published: "9180", target: 9180 });
    expect(svc.volumes[0]).toMatchObject({ type: "bind", source: join(dir, "conf"), target: "/etc/caddy", read_only: true });
    expect(svc.deploy.resources.limits).toEqual({ cpus: 1, memory: String(512 * 1024 * 1024), pids: 512 });
  });
});

const caddyBin = findCaddy();
describe("rendered Caddyfile through real Caddy", () => {
  beforeAll(() => {
    // never skipped: `npm test` extracts the tool from the lab images (scripts/tool-binaries.sh)
    if (caddyBin === null) throw new Error("Caddy (BTW_CADDY_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
  });
  const tenants: CaddyfileInput["tenants"] = [
    { slug: "acme", status: "active" },
    { slug: "beta", status: "suspended" },
  ];
  const inputs: Record<string, CaddyfileInput> = {
    auto: { tls: "auto", acmeEmail: "ops@example.com", domain: "example.com", tenants },
    off: { tls: "off", domain: "lab.test", tenants },
    metrics: { tls: "auto", acmeEmail: "ops@example.com", domain: "example.com", tenants, metrics: { port: 9180, token: "0123456789abcdef".repeat(4), denyFrom: ["10.220.0.0/16"] } },
    empty: { tls: "off", domain: "lab.test", tenants: [] },
    // edge.switch prepare/dns: HTTPS sites for direct visitors + their plain-HTTP twins for the edge
    switching: { tls: "auto", acmeEmail: "ops@example.com", domain: "example.com", tenants, trustedProxies: ["10.0.0.0/16"], edgePlainHttp: true },
  };

  it.each(Object.keys(inputs))("%s: already `caddy fmt` formatted, and adapts without warnings", (name) => {
    const dir = tempDir();
    const file = join(dir, "Caddyfile");
    writeFileSync(file, renderCaddyfile(inputs[name] as CaddyfileInput));
    const fmt = run([caddyBin as string, "fmt", file]);
    expect(fmt.stdout).toBe(readFileSync(file, "utf8"));
    const adapt = run([caddyBin as string, "adapt", "--config", file, "--adapter", "caddyfile"]);
    expect([adapt.status, adapt.stderr]).toEqual([0, ""]);
  });

  it("while the fleet moves to the edge: each tenant on :443 with its certificate and on :80 in plain HTTP, no redirect", () => {
    const dir = tempDir();
    const file = join(dir, "Caddyfile");
    writeFileSync(file, renderCaddyfile(inputs.switching as CaddyfileInput));
    const json = JSON.parse(run([caddyBin as string, "adapt", "--config", file, "--adapter", "caddyfile"]).stdout);
    const servers = Object.values(json.apps.http.servers) as any[];
    const byPort = Object.fromEntries(servers.map((s) => [s.listen[0], s]));
    expect(Object.keys(byPort).sort()).toEqual([":443", ":80"]);
    const hosts = (srv: any) => (srv.routes as any[]).map((r) => r.match?.[0]?.host?.[0] ?? null);
    expect(hosts(byPort[":443"])).toEqual(["acme.example.com", "beta.example.com"]);
    expect(hosts(byPort[":80"])).toEqual(["acme.example.com", "beta.example.com", null]);
    expect(JSON.stringify(byPort[":80"].routes)).not.toContain('"Location"');
    expect(byPort[":443"].automatic_https).toEqual({ disable_redirects: true });
    expect(JSON.stringify(byPort[":80"].routes)).toContain('"dial":"n8n-acme:5678"');
  });

  it("tls off: tenants' routes before the 404 catch-all, on :80; a suspended tenant answers 503", () => {
    const dir = tempDir();
    const file = join(dir, "Caddyfile");
    writeFileSync(file, renderCaddyfile(inputs.off as CaddyfileInput));
    const json = JSON.parse(run([caddyBin as string, "adapt", "--config", file, "--adapter", "caddyfile"]).stdout);
    const servers = Object.values(json.apps.http.servers) as any[];
    expect(servers.map((s) => s.listen)).toEqual([[":80"]]);
    const routes = servers[0].routes as any[];
    expect(routes.map((r) => r.match?.[0]?.host ?? null)).toEqual([["acme.lab.test"], ["beta.lab.test"], null]);
    const text = JSON.stringify(routes);
    expect(text).toContain('"dial":"n8n-acme:5678"');
    expect(text).toContain('"status_code":503');
    expect(text).toContain('"status_code":404');
  });

  it("validate accepts the tls auto file (Let's Encrypt set up, nothing fetched)", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "xdg"));
    const file = join(dir, "Caddyfile");
    writeFileSync(file, renderCaddyfile(inputs.auto as CaddyfileInput));
    // Caddy sets up its storage while validating: keep it in the temp dir.
    const xdg = join(dir, "xdg");
    const r = run([caddyBin as string, "validate", "--config", file, "--adapter", "caddyfile"], { cwd: dir, env: { XDG_DATA_HOME: xdg, XDG_CONFIG_HOME: xdg } });
    expect([r.status, r.stdout.trim().split("\n").at(-1)]).toEqual([0, "Valid configuration"]);
  });
});
