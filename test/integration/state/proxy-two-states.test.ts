// syncRoutes with two btw states (two databases, two state ids) on one server's proxy (issue
// 22, Also): each writes only its own site files, and the other's tenants stay routed. The
// "server" is a local directory standing in for /opt/btw/proxy: the Host runs the very argv
// and scripts btw sends over SSH on this machine, with the proxy's paths moved into the
// directory, and a stand-in `docker` on PATH whose `exec btw-proxy caddy validate|reload` runs
// the real Caddy (BTW_CADDY_BIN) on those files. Starts from an old single-file Caddyfile.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../../../src/config/load.js";
import { renderCaddyfile } from "../../../src/core/proxy/caddyfile.js";
import { PROXY_DIR } from "../../../src/core/proxy/layout.js";
import { ConflictError } from "../../../src/errors.js";
import { Host } from "../../../src/ops/host.js";
import { syncRoutes, type ProxyCtx } from "../../../src/ops/proxy.js";
import type { SshClient, SshResult } from "../../../src/remote/ssh.js";
import type { MasterKey } from "../../../src/secrets/master-key.js";
import type { Db } from "../../../src/state/db.js";
import { readStateId } from "../../../src/state/identity.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenantDomain } from "../../../src/state/tenant-domains.js";
import { insertTenant, updateTenantStatus } from "../../../src/state/tenants.js";
import { findCaddy } from "../../unit/tenant/external-tools.js";
import { driverFixture, type DriverFixture } from "./drivers.js";

const caddyBin = findCaddy();
const master: MasterKey = { id: "0123456789ab", key: randomBytes(32), source: "file" };
const { config } = parseConfigText("domain: lab.test\nproxy:\n  tls: \"off\"\n", "btw.yml", { BTW_HOME: "/h" });

let root: string;
let conf: string;

/** A Host running btw's argv here, /opt/btw/proxy moved to `root`. */
function localHost(): Host {
  const env = { PATH: `${join(root, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: process.env.HOME ?? "/root" };
  const ssh = {
    run: async (argv: readonly string[], opts: { input?: string; allowFailure?: boolean } = {}): Promise<SshResult> => {
      const [cmd, ...args] = argv.map((a) => (a.startsWith(PROXY_DIR) ? root + a.slice(PROXY_DIR.length) : a));
      const r = spawnSync(cmd!, args, { encoding: "utf8", env, input: opts.input ?? "", timeout: 60_000 });
      const res = { stdout: r.stdout, stderr: r.stderr, exitCode: r.status ?? 1 };
      if (res.exitCode !== 0 && !opts.allowFailure) throw new Error(`${argv.slice(0, 3).join(" ")} exited ${res.exitCode}: ${res.stderr}`);
      return res;
    },
  } as unknown as SshClient;
  return new Host("lab-1", ssh);
}

/** The :80 hosts Caddy routes with the live files (what a reload loaded). */
function routed(): string[] {
  const r = spawnSync(caddyBin as string, ["adapt", "--config", join(conf, "Caddyfile"), "--adapter", "caddyfile"], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  const servers = Object.values(JSON.parse(r.stdout).apps.http.servers as Record<string, any>);
  return servers
    .filter((s) => s.listen.includes(":80"))
    .flatMap((s) => s.routes.flatMap((x: any) => (x.match ?? []).flatMap((m: any) => m.host ?? [])))
    .sort();
}

interface State {
  fx: DriverFixture;
  db: Db;
  ctx: ProxyCtx;
  server: { id: number; name: string };
  id: string;
}

async function openState(): Promise<State> {
  const fx = await driverFixture("pg");
  const db = await fx.open();
  await migrate(db);
  const id = (await readStateId(db))!;
  const s = await insertServer(db, { name: "lab-1", host: "203.0.113.1", capacity: 20 });
  return { fx, db, id, server: { id: s.id, name: s.name }, ctx: { config, master: async () => master, stateId: id } };
}

describe("two btw states' syncRoutes on one proxy", () => {
  let a: State;
  let b: State;
  let acmeId = 0;

  beforeAll(async () => {
    if (caddyBin === null) throw new Error("Caddy (BTW_CADDY_BIN) not found: source scripts/tool-binaries.sh, or set the variable to a binary");
    root = mkdtempSync(join(tmpdir(), "btw-proxy-states-"));
    conf = join(root, "conf");
    mkdirSync(join(root, "bin"), { recursive: true });
    mkdirSync(conf, { recursive: true });
    writeFileSync(
      join(root, "bin", "docker"),
      `#!/bin/sh
case "$1" in
  inspect) echo '{}'; exit 0 ;;
  network) exit 0 ;;
  exec) ;;
  *) echo "stand-in docker: $*" >&2; exit 9 ;;
esac
shift 2
[ "$1" = caddy ] || exit 9
cmd=$2; shift 2
args=""
for a; do args="$args $(printf '%s' "$a" | sed "s#^/etc/caddy#${conf}#")"; done
echo "$cmd" >> "${root}/caddy.log"
[ "$cmd" = reload ] && exec "${caddyBin}" adapt $args >/dev/null
exec "${caddyBin}" validate $args
`,
    );
    chmodSync(join(root, "bin", "docker"), 0o755);
    [a, b] = [await openState(), await openState()];
    acmeId = (await insertTenant(a.db, { slug: "acme", plan: "starter", serverId: a.server.id, subnet: "10.241.0.0/24", status: "active" })).id;
    const beta = await insertTenant(b.db, { slug: "beta", plan: "starter", serverId: b.server.id, subnet: "10.243.0.0/24", status: "active" });
    await insertTenantDomain(b.db, { tenantId: beta.id, hostname: "automation.beta.test", webhook: false });
    // what the old btw left: one Caddyfile, last rendered by a state that had both tenants
    writeFileSync(join(conf, "Caddyfile"), renderCaddyfile({ tls: "off", domain: "lab.test", tenants: [{ slug: "acme", status: "active" }, { slug: "beta", status: "active", extraHosts: ["automation.beta.test"] }] }));
  }, 120_000);

  afterAll(async () => {
    for (const s of [a, b]) await s?.fx.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("the first state's sync converts the old layout: its own file for its tenant, the other's old site kept aside, both routed", async () => {
    await syncRoutes(localHost(), a.db, a.ctx, a.server);
    expect(readdirSync(join(conf, "sites")).sort()).toEqual([`${a.id}.caddy`, `${a.id}.metrics`, "legacy.caddy"].sort());
    expect(readFileSync(join(conf, "Caddyfile"), "utf8")).toContain("import sites/*.caddy");
    expect(readFileSync(join(conf, "sites/legacy.caddy"), "utf8")).toContain("http://beta.lab.test, http://automation.beta.test {");
    expect(readFileSync(join(conf, "sites/legacy.caddy"), "utf8")).not.toContain("acme");
    expect(routed()).toEqual(["acme.lab.test", "automation.beta.test", "beta.lab.test"]);
  });

  it("the second state's sync writes its own files and takes its site out of the legacy file; the first state's file untouched", async () => {
    const aFile = readFileSync(join(conf, `sites/${a.id}.caddy`), "utf8");
    await syncRoutes(localHost(), b.db, b.ctx, b.server);
    expect(readFileSync(join(conf, `sites/${a.id}.caddy`), "utf8")).toBe(aFile);
    expect(readFileSync(join(conf, `sites/${b.id}.caddy`), "utf8")).toContain("http://beta.lab.test, http://automation.beta.test {");
    expect(readFileSync(join(conf, "sites/legacy.caddy"), "utf8")).not.toContain("beta");
    expect(routed()).toEqual(["acme.lab.test", "automation.beta.test", "beta.lab.test"]);
  });

  it("a tenant deleted by the first state leaves the second state's file byte for byte and its routes", async () => {
    const bFiles = [readFileSync(join(conf, `sites/${b.id}.caddy`), "utf8"), readFileSync(join(conf, `sites/${b.id}.metrics`), "utf8")];
    await updateTenantStatus(a.db, acmeId, "deleted");
    await syncRoutes(localHost(), a.db, a.ctx, a.server);
    expect([readFileSync(join(conf, `sites/${b.id}.caddy`), "utf8"), readFileSync(join(conf, `sites/${b.id}.metrics`), "utf8")]).toEqual(bFiles);
    expect(routed()).toEqual(["automation.beta.test", "beta.lab.test"]);
  });

  it("a host the other state routes is refused with one line, exit 2, nothing written", async () => {
    const before = readdirSync(join(conf, "sites")).map((f) => [f, readFileSync(join(conf, "sites", f), "utf8")]);
    const gamma = await insertTenant(a.db, { slug: "gamma", plan: "starter", serverId: a.server.id, subnet: "10.241.1.0/24", status: "active" });
    await insertTenantDomain(a.db, { tenantId: gamma.id, hostname: "automation.beta.test", webhook: false });
    const err = await syncRoutes(localHost(), a.db, a.ctx, a.server).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).exitCode).toBe(2);
    expect((err as Error).message).toBe(`host automation.beta.test is already routed on lab-1 by another btw state (${b.id})`);
    expect(readdirSync(join(conf, "sites")).map((f) => [f, readFileSync(join(conf, "sites", f), "utf8")])).toEqual(before);
    expect(routed()).toEqual(["automation.beta.test", "beta.lab.test"]);
  });
});
