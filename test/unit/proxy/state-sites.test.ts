// Two btw states on one server's proxy (issue 22, Also): the main Caddyfile imports one pair of
// files per state, and a state writes only its own. Proved with the real Caddy (BTW_CADDY_BIN):
// two states' files imported together route both states' hosts and metrics paths; re-rendering
// one state's files leaves the other's bytes and routes alone; a host another state routes is
// refused; an old single-file Caddyfile is converted without dropping another state's sites;
// and the install script (under its lock, with a stand-in `docker` that runs the same Caddy)
// never makes a rejected candidate live and puts the previous files back when a reload fails.
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTALL_SITES_EXIT, INSTALL_SITES_SCRIPT, parseProxyConf, READ_PROXY_CONF_SCRIPT } from "../../../src/core/commands/proxy.js";
import { renderCaddyfile, renderMainCaddyfile, renderStateSites, type CaddyfileInput } from "../../../src/core/proxy/caddyfile.js";
import { LEGACY_SITES } from "../../../src/core/proxy/layout.js";
import { planStateSites, routedHosts, type SitesPlanInput } from "../../../src/core/proxy/sites.js";
import { ConflictError } from "../../../src/errors.js";
import { CLEAN_ENV, findCaddy, run } from "../tenant/external-tools.js";

const caddyBin = findCaddy();
const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const TOKEN_A = "a".repeat(64);
const TOKEN_B = "b".repeat(64);
const MAIN = renderMainCaddyfile({ tls: "off", metricsPort: 9180 });
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "btw-sites-"));
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function stateInput(stateId: string, token: string, tenants: CaddyfileInput["tenants"]): CaddyfileInput & { stateId: string } {
  return { stateId, tls: "off", domain: "lab.test", tenants, metrics: { port: 9180, token, denyFrom: [] } };
}
const stateA = (tenants: CaddyfileInput["tenants"] = [{ slug: "acme", status: "active" }]) => renderStateSites(stateInput(A, TOKEN_A, tenants));
const stateB = (tenants: CaddyfileInput["tenants"] = [{ slug: "beta", status: "active", extraHosts: ["automation.beta.test"] }, { slug: "gamma", status: "suspended" }]) =>
  renderStateSites(stateInput(B, TOKEN_B, tenants));

/** The files of a conf dir, by the names the flow uses ("Caddyfile", "sites/….caddy"), as READ_PROXY_CONF_SCRIPT reads them. */
function readConf(dir: string): Map<string, string> {
  const r = run(["sh", "-c", READ_PROXY_CONF_SCRIPT, "sh", dir]);
  expect(r.status, r.stderr).toBe(0);
  return parseProxyConf(r.stdout);
}

function writeConf(dir: string, files: Record<string, string>): void {
  mkdirSync(join(dir, "sites"), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

function plan(dir: string, stateId: string, ours: { sites: string; metrics: string }, knownSlugs: string[] = []): ReturnType<typeof planStateSites> {
  const input: SitesPlanInput = { stateId, ours, main: MAIN, files: readConf(dir), knownSlugs, domain: "lab.test", server: "btw-1" };
  return planStateSites(input);
}

function apply(dir: string, p: ReturnType<typeof planStateSites>): void {
  writeConf(dir, Object.fromEntries(p.writes.map((w) => [w.name, w.text])));
}

function adapt(dir: string): { status: number | null; json: any; stderr: string } {
  const r = run([caddyBin as string, "adapt", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"]);
  return { status: r.status, json: r.status === 0 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

/** Host names of the adapted config's :80 routes, in Caddy's order. */
function routedOn80(json: any): string[] {
  const srv = Object.values(json.apps.http.servers as Record<string, any>).find((s) => s.listen.includes(":80"));
  return srv.routes.flatMap((r: any) => (r.match ?? []).flatMap((m: any) => m.host ?? []));
}

beforeAll(() => {
  // never skipped: `npm test` extracts the tool from the lab images (scripts/tool-binaries.sh)
  if (caddyBin === null) throw new Error("Caddy (BTW_CADDY_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
});

describe("the main Caddyfile", () => {
  it("holds the server's settings and imports the states' files; no tenant in it, the same bytes for every state", () => {
    expect(MAIN).toContain("\nimport sites/*.caddy\n");
    expect(MAIN).toContain("\t\timport sites/*.metrics\n");
    expect(MAIN).toContain("\tauto_https off\n");
    expect(MAIN).not.toMatch(/acme|beta|Bearer/);
    // alone (a fresh server, no state yet) it is a valid configuration
    const dir = tempDir();
    writeConf(dir, { Caddyfile: MAIN });
    expect(adapt(dir).status).toBe(0);
  });

  it("the main file and a state's two files, with every option in use, are already `caddy fmt` formatted", () => {
    const dir = tempDir();
    const files = {
      main: renderMainCaddyfile({ tls: "auto", acmeEmail: "ops@example.com", edgePlainHttp: true, metricsPort: 9180 }),
      ...renderStateSites({
        stateId: A,
        tls: "auto",
        edgePlainHttp: true,
        trustedProxies: ["10.0.0.0/16"],
        domain: "example.com",
        tenants: [{ slug: "acme", status: "active", extraHosts: ["automation.acme.test"] }, { slug: "beta", status: "suspended" }, { slug: "zeta", status: "active" }],
        metrics: { port: 9180, token: TOKEN_A, denyFrom: ["10.220.0.0/16"], allowFrom: ["10.220.0.1/32"] },
      }),
    };
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(dir, name), text);
      expect(run([caddyBin as string, "fmt", join(dir, name)]).stdout, name).toBe(text);
    }
  });

  it("keeps the global options that edge mode needs: no redirects while the fleet moves to the edge", () => {
    expect(renderMainCaddyfile({ tls: "auto", acmeEmail: "ops@example.com", edgePlainHttp: true })).toContain("{\n\tadmin localhost:2019\n\tauto_https disable_redirects\n\temail ops@example.com\n}");
  });
});

describe("two btw states' files imported together (real Caddy)", () => {
  let upstream: Server;
  let child: ChildProcess | undefined;
  let web = 0;
  let metrics = 0;

  function get(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path, headers: { host, ...headers }, timeout: 10_000 }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }
  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const s = createNetServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });

  beforeAll(async () => {
    upstream = createServer((req, res) => res.end(`upstream host=${req.headers.host} path=${req.url}`));
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const up = `127.0.0.1:${(upstream.address() as { port: number }).port}`;
    [web, metrics] = [await freePort(), await freePort()];
    const dir = tempDir();
    const local = (t: string) => t.replace(/n8n-[a-z0-9-]+:5678/g, up).replaceAll("http://:9180", `http://:${metrics}`);
    const a = stateA();
    const b = stateB();
    writeConf(dir, {
      Caddyfile: local(MAIN).replace("\tadmin localhost:2019", `\tadmin off\n\thttp_port ${web}`),
      [`sites/${A}.caddy`]: local(a.sites),
      [`sites/${A}.metrics`]: local(a.metrics),
      [`sites/${B}.caddy`]: local(b.sites),
      [`sites/${B}.metrics`]: local(b.metrics),
    });
    child = spawn(caddyBin as string, ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { env: { ...CLEAN_ENV, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir }, stdio: "ignore" });
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await get(web, "probe.invalid", "/");
        break;
      } catch (e) {
        if (Date.now() > deadline || child.exitCode !== null) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 30_000);

  afterAll(() => {
    child?.kill();
    upstream?.close();
  });

  it("routes state A's tenant and state B's tenants (custom domain included); B's suspended tenant answers 503; unknown hosts 404", async () => {
    expect(await get(web, "acme.lab.test", "/healthz")).toEqual({ status: 200, body: "upstream host=acme.lab.test path=/healthz" });
    expect(await get(web, "beta.lab.test", "/healthz")).toEqual({ status: 200, body: "upstream host=beta.lab.test path=/healthz" });
    expect(await get(web, "automation.beta.test", "/")).toEqual({ status: 200, body: "upstream host=automation.beta.test path=/" });
    expect((await get(web, "gamma.lab.test", "/")).status).toBe(503);
    expect(await get(web, "nobody.lab.test", "/")).toEqual({ status: 404, body: "Not found" });
  });

  it("serves each state's tenants' metrics to that state's token only", async () => {
    expect(await get(metrics, "10.0.1.2", "/tenants/acme/metrics", { authorization: `Bearer ${TOKEN_A}` })).toEqual({ status: 200, body: "upstream host=10.0.1.2 path=/metrics" });
    expect(await get(metrics, "10.0.1.2", "/tenants/beta/metrics", { authorization: `Bearer ${TOKEN_B}` })).toEqual({ status: 200, body: "upstream host=10.0.1.2 path=/metrics" });
    expect((await get(metrics, "10.0.1.2", "/tenants/beta/metrics", { authorization: `Bearer ${TOKEN_A}` })).status).toBe(401);
    expect((await get(metrics, "10.0.1.2", "/tenants/acme/metrics", { authorization: `Bearer ${TOKEN_B}` })).status).toBe(401);
    expect((await get(metrics, "10.0.1.2", "/tenants/gamma/metrics", { authorization: `Bearer ${TOKEN_B}` })).status).toBe(401);
  });
});

describe("a state writes only its own files", () => {
  it("re-rendering state A (a tenant added, then all removed) leaves state B's files byte for byte and its routes", () => {
    const dir = tempDir();
    const b = stateB();
    writeConf(dir, { Caddyfile: MAIN, [`sites/${B}.caddy`]: b.sites, [`sites/${B}.metrics`]: b.metrics });
    for (const tenants of [[{ slug: "acme", status: "active" }, { slug: "delta", status: "active" }], []] as CaddyfileInput["tenants"][]) {
      const p = plan(dir, A, stateA(tenants), ["acme", "delta"]);
      expect(p.writes.map((w) => w.name).sort()).toEqual([`sites/${A}.caddy`, `sites/${A}.metrics`]);
      apply(dir, p);
      expect(readFileSync(join(dir, `sites/${B}.caddy`), "utf8")).toBe(b.sites);
      expect(readFileSync(join(dir, `sites/${B}.metrics`), "utf8")).toBe(b.metrics);
      const r = adapt(dir);
      expect(r.status, r.stderr).toBe(0);
      expect(routedOn80(r.json)).toEqual(expect.arrayContaining(["beta.lab.test", "automation.beta.test", "gamma.lab.test", ...tenants.map((t) => `${t.slug}.lab.test`)]));
    }
    // A with no tenant: its files hold a comment only, and Caddy takes them
    expect(routedHosts(readFileSync(join(dir, `sites/${A}.caddy`), "utf8"))).toEqual([]);
    expect(routedOn80(adapt(dir).json)).not.toContain("acme.lab.test");
    // nothing changed: nothing to write (no reload)
    expect(plan(dir, A, stateA([])).writes).toEqual([]);
  });

  it("refuses a host another state's file routes: a ConflictError (exit 2) on one line, nothing to write", () => {
    const dir = tempDir();
    const b = stateB();
    writeConf(dir, { Caddyfile: MAIN, [`sites/${B}.caddy`]: b.sites, [`sites/${B}.metrics`]: b.metrics });
    const mine = stateA([{ slug: "acme", status: "active", extraHosts: ["automation.beta.test"] }]);
    let err: unknown;
    try {
      plan(dir, A, mine);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).exitCode).toBe(2);
    expect((err as ConflictError).code).toBe("proxy-host-taken");
    expect((err as Error).message).toBe(`host automation.beta.test is already routed on btw-1 by another btw state (${B})`);
    // the same tenant name in two states' files collides the same way
    expect(() => plan(dir, A, stateA([{ slug: "beta", status: "active" }]))).toThrow(/host beta\.lab\.test is already routed/);
  });
});

describe("migration from the single-file Caddyfile", () => {
  it("keeps another state's old sites (moved to sites/legacy.caddy) and drops this state's own; each state then claims its own", () => {
    const dir = tempDir();
    // rendered by the old btw from state B's tenants (beta, gamma) and an earlier sync of A's acme
    const old = renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }, { slug: "beta", status: "active" }, { slug: "gamma", status: "suspended" }], metrics: { port: 9180, token: TOKEN_B, denyFrom: ["10.220.0.0/16"] } });
    writeConf(dir, { Caddyfile: old });
    const p = plan(dir, A, stateA(), ["acme"]);
    // the order keeps every step valid: legacy first (A's site out of it), then A's, then the main file
    expect(p.writes.map((w) => w.name)).toEqual([LEGACY_SITES, `sites/${A}.caddy`, `sites/${A}.metrics`, "Caddyfile"]);
    expect(p.migrated).toMatch(/moved to one site file per btw state \(3 site blocks/);
    apply(dir, p);
    expect(routedHosts(readFileSync(join(dir, LEGACY_SITES), "utf8"))).toEqual(["beta.lab.test", "gamma.lab.test"]);
    let r = adapt(dir);
    expect(r.status, r.stderr).toBe(0);
    expect(routedOn80(r.json).sort()).toEqual(["acme.lab.test", "beta.lab.test", "gamma.lab.test"]);

    // state B's next sync takes its own sites out of the legacy file and writes its own files
    const q = plan(dir, B, stateB([{ slug: "beta", status: "active" }]), ["beta", "gamma"]);
    expect(q.migrated).toBeUndefined();
    expect(q.writes.map((w) => w.name)).toEqual([LEGACY_SITES, `sites/${B}.caddy`, `sites/${B}.metrics`]);
    apply(dir, q);
    expect(routedHosts(readFileSync(join(dir, LEGACY_SITES), "utf8"))).toEqual([]);
    r = adapt(dir);
    expect(r.status, r.stderr).toBe(0);
    expect(routedOn80(r.json).sort()).toEqual(["acme.lab.test", "beta.lab.test"]);
  });

  it("a site of a tenant this state does not know stays in the legacy file", () => {
    const dir = tempDir();
    writeConf(dir, { Caddyfile: renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }, { slug: "zulu", status: "active" }] }) });
    apply(dir, plan(dir, A, stateA(), ["acme"]));
    expect(routedHosts(readFileSync(join(dir, LEGACY_SITES), "utf8"))).toEqual(["zulu.lab.test"]);
    expect(routedOn80(adapt(dir).json).sort()).toEqual(["acme.lab.test", "zulu.lab.test"]);
  });
});

describe("INSTALL_SITES_SCRIPT (a stand-in docker runs the same Caddy on the conf dir)", () => {
  /** A conf dir with A's and B's files live, and a `docker` on PATH: exec <container> caddy … with /etc/caddy mapped to the dir. */
  function setup(): { dir: string; env: Record<string, string>; install: (names: string[], env?: Record<string, string>) => { status: number | null; stderr: string } } {
    const root = tempDir();
    const dir = join(root, "conf");
    const bin = join(root, "bin");
    mkdirSync(bin, { recursive: true });
    const a = stateA();
    const b = stateB();
    writeConf(dir, { Caddyfile: MAIN, [`sites/${A}.caddy`]: a.sites, [`sites/${A}.metrics`]: a.metrics, [`sites/${B}.caddy`]: b.sites, [`sites/${B}.metrics`]: b.metrics });
    // reload: adapt the live files (what a reload loads), fail on demand
    writeFileSync(
      join(bin, "docker"),
      `#!/bin/sh
[ "$1" = exec ] || exit 9
shift 2
cmd=$2; shift 2
args=""
for a; do args="$args $(printf '%s' "$a" | sed "s#^/etc/caddy#${dir}#")"; done
if [ "$cmd" = reload ]; then
  [ -z "$FAIL_RELOAD" ] || { echo "Error: loading new config: stand-in failure" >&2; exit 1; }
  echo reload >> "${root}/reloads"
  exec "${caddyBin}" adapt $args >/dev/null
fi
exec "${caddyBin}" validate $args
`,
    );
    chmodSync(join(bin, "docker"), 0o755);
    const env = { PATH: `${bin}:${CLEAN_ENV.PATH}` };
    return {
      dir,
      env,
      install: (names, extra = {}) => {
        const r = run(["sh", "-c", INSTALL_SITES_SCRIPT, "sh", dir, "/etc/caddy", "btw-proxy", A, ...names], { env: { ...env, ...extra } });
        return { status: r.status, stderr: r.stderr };
      },
    };
  }

  it("validates the whole set with the candidate in place, then installs it and reloads; the other state's files untouched", () => {
    const { dir, install } = setup();
    const before = readFileSync(join(dir, `sites/${B}.caddy`), "utf8");
    const next = stateA([{ slug: "acme", status: "suspended" }]);
    writeFileSync(join(dir, `sites/${A}.caddy.next-${A}`), next.sites);
    writeFileSync(join(dir, `sites/${A}.metrics.next-${A}`), next.metrics);
    expect(install([`sites/${A}.caddy`, `sites/${A}.metrics`])).toEqual({ status: 0, stderr: "" });
    expect(readFileSync(join(dir, `sites/${A}.caddy`), "utf8")).toBe(next.sites);
    expect(readFileSync(join(dir, `sites/${B}.caddy`), "utf8")).toBe(before);
    expect(readdirSync(dir).filter((f) => f.startsWith(".check"))).toEqual([]);
    expect(readdirSync(join(dir, "sites")).filter((f) => !f.endsWith(".caddy") && !f.endsWith(".metrics"))).toEqual([]);
    expect(readFileSync(join(dir, "..", "reloads"), "utf8")).toBe("reload\n");
  });

  it("a candidate that collides with another state's file (Caddy rejects the set) never becomes live, and nothing reloads", () => {
    const { dir, install } = setup();
    const live = readFileSync(join(dir, `sites/${A}.caddy`), "utf8");
    // what a race past the planner's check would install: B's host in A's file
    writeFileSync(join(dir, `sites/${A}.caddy.next-${A}`), stateA([{ slug: "beta", status: "active" }]).sites);
    const r = install([`sites/${A}.caddy`]);
    expect(r.status).toBe(INSTALL_SITES_EXIT.invalid);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/beta\.lab\.test/);
    expect(readFileSync(join(dir, `sites/${A}.caddy`), "utf8")).toBe(live);
    expect(existsSync(join(dir, `sites/${A}.caddy.next-${A}`))).toBe(false);
    expect(existsSync(join(dir, "..", "reloads"))).toBe(false);
  });

  it("a reload that fails puts the previous files back (and removes a file that was new)", () => {
    const { dir, install } = setup();
    const live = readFileSync(join(dir, `sites/${A}.caddy`), "utf8");
    writeFileSync(join(dir, `sites/${A}.caddy.next-${A}`), stateA([]).sites);
    writeFileSync(join(dir, `${LEGACY_SITES}.next-${A}`), "# legacy\n");
    const r = install([LEGACY_SITES, `sites/${A}.caddy`], { FAIL_RELOAD: "1" });
    expect(r.status).toBe(INSTALL_SITES_EXIT.reloadFailed);
    expect(r.stderr.trim()).toBe("Error: loading new config: stand-in failure");
    expect(readFileSync(join(dir, `sites/${A}.caddy`), "utf8")).toBe(live);
    expect(existsSync(join(dir, LEGACY_SITES))).toBe(false);
    expect(readdirSync(join(dir, "sites")).filter((f) => f.endsWith(".prev") || f.includes(".next"))).toEqual([]);
  });

  it("two states converging the shared main file at once each install their own candidate (named with their state id)", () => {
    const { dir, env } = setup();
    writeFileSync(join(dir, `Caddyfile.next-${A}`), MAIN);
    writeFileSync(join(dir, `Caddyfile.next-${B}`), MAIN);
    for (const id of [A, B]) {
      const r = run(["sh", "-c", INSTALL_SITES_SCRIPT, "sh", dir, "/etc/caddy", "btw-proxy", id, "Caddyfile"], { env });
      expect([id, r.status, r.stderr]).toEqual([id, 0, ""]);
    }
    expect(readdirSync(dir).filter((f) => f.includes(".next"))).toEqual([]);
  });

  it("waits for another btw holding the proxy's lock", () => {
    const { dir, env } = setup();
    writeFileSync(join(dir, `sites/${A}.caddy.next-${A}`), stateA([]).sites);
    // hold the lock for a second from another process, then install: it waits, then succeeds
    const holder = spawn("flock", [join(dir, ".lock"), "sleep", "1"], { stdio: "ignore" });
    const t0 = Date.now();
    const sleepUntilHeld = run(["sh", "-c", 'for i in 1 2 3 4 5 6 7 8 9 10; do flock -n "$1" true || exit 0; sleep 0.05; done', "sh", join(dir, ".lock")]);
    expect(sleepUntilHeld.status).toBe(0);
    const r = run(["sh", "-c", INSTALL_SITES_SCRIPT, "sh", dir, "/etc/caddy", "btw-proxy", A, `sites/${A}.caddy`], { env });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(Date.now() - t0).toBeGreaterThan(500);
    holder.kill();
  });
});
