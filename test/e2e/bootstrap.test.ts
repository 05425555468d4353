// `btw server bootstrap` on the lab's bare VM — Debian trixie with sshd and nothing else —
// turns it into a btw server: Docker Engine + Compose v2, the hardening, the proxy; `server
// check` passes, a tenant runs there, and a second bootstrap changes nothing.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BtwHome } from "../support/cli.js";
import { LAB_DOMAIN, labHome, viaProxy } from "../support/lab-home.js";
import { freshBareServer, labInfo, mustOnServer, onServer, uniqueName, type LabInfo, type LabServer } from "./support/lab.js";

describe("server bootstrap on a bare Debian host", () => {
  let lab: LabInfo;
  let bare: LabServer;
  let home: BtwHome;
  const tenant = uniqueName("boot");
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    lab = labInfo();
    bare = await freshBareServer(); // a new disk: no Docker, whatever an earlier run did
    home = await labHome(lab, { servers: [] });
    // The lab registry speaks plain HTTP: the new engine must be told, through btw's config.
    const file = join(home.dir, "btw.yml");
    const config = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, stringify({ ...config, bootstrap: { insecureRegistries: [lab.registry] } }));
  }, 600_000);

  afterAll(async () => {
    if (home) {
      await home.run(["tenant", "delete", tenant, "--purge", "--yes"]);
      home.cleanup();
    }
    if (Object.keys(timings).length) process.stderr.write(`bootstrap e2e timings (s): ${JSON.stringify(timings)}\n`);
  });

  it("registers the bare host as a server that needs bootstrapping", async () => {
    expect((await onServer(bare, ["sh", "-c", "command -v docker"])).code).not.toBe(0);
    const r = await home.run(["server", "add", bare.name, "--host", bare.host, "--port", String(bare.port), "--user", bare.user, "--ssh-key", bare.sshKey, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.server.status).toBe("new");
    expect(out.server.facts.verdict).toBe("needs-bootstrap");
  });

  it("installs Docker ≥ 25 and Compose v2 ≥ 2.24, hardens the host, starts the proxy, and the check passes", async () => {
    const started = Date.now();
    const r = await home.run(["server", "bootstrap", bare.name, "--json"]);
    timings.first = (Date.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe("active");
    expect(out.changed).toEqual(expect.arrayContaining(["dirs", "docker-config", "packages", "sshd", "docker-engine", "proxy"]));

    const engine = (await mustOnServer(bare, ["docker", "version", "--format", "{{.Server.Version}}"])).trim();
    expect(Number(engine.split(".")[0])).toBeGreaterThanOrEqual(25);
    const compose = (await mustOnServer(bare, ["docker", "compose", "version", "--short"])).trim().replace(/^v/, "");
    const [major, minor] = compose.split(".").map(Number);
    expect(major === 2 && minor! >= 24, `compose ${compose}`).toBe(true);
    expect((await mustOnServer(bare, ["docker", "inspect", "--format", "{{.State.Running}} {{.State.Health.Status}}", "btw-proxy"])).trim()).toBe("true healthy");

    // the hardening the script promises
    const sshd = await mustOnServer(bare, ["sshd", "-T"]);
    expect(sshd).toMatch(/^passwordauthentication no$/m);
    expect(sshd).toMatch(/^kbdinteractiveauthentication no$/m);
    const daemon = JSON.parse(await mustOnServer(bare, ["cat", "/etc/docker/daemon.json"]));
    expect(daemon).toEqual({ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" }, "live-restore": true, "insecure-registries": [lab.registry] });
    for (const pkg of ["fail2ban", "unattended-upgrades"]) await mustOnServer(bare, ["dpkg-query", "-W", pkg]);
    expect(await mustOnServer(bare, ["cat", "/etc/apt/apt.conf.d/20auto-upgrades"])).toContain('APT::Periodic::Unattended-Upgrade "1";');
    await mustOnServer(bare, ["test", "-d", "/opt/btw/tenants"]);

    const check = await home.run(["server", "check", bare.name, "--json"]);
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout).servers[0]).toMatchObject({ server: bare.name, status: "active", error: null });
  });

  it("runs a tenant there", async () => {
    // Image distribution is not the bootstrap's job; pull the 2+ GB of lab images up front
    // so `tenant create` stays within the CLI helper's 120 s limit.
    const started = Date.now();
    for (const ref of Object.values(lab.images)) await mustOnServer(bare, ["docker", "pull", "-q", ref], { timeoutMs: 600_000 });
    timings.pull = (Date.now() - started) / 1000;
    const createdAt = Date.now();
    const r = await home.run(["tenant", "create", tenant, "--plan", "starter", "--server", bare.name]);
    timings.tenantCreate = (Date.now() - createdAt) / 1000;
    expect(r.code, r.stderr).toBe(0);
    const page = await viaProxy(bare, `${tenant}.${LAB_DOMAIN}`, "/healthz");
    expect(page.status).toBe(200);
  });

  it("a second bootstrap changes nothing and says so", async () => {
    const proxyBefore = (await mustOnServer(bare, ["docker", "inspect", "--format", "{{.Id}}", "btw-proxy"])).trim();
    const started = Date.now();
    const r = await home.run(["server", "bootstrap", bare.name]);
    timings.second = (Date.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lab-bare is bootstrapped: nothing changed/);
    const json = await home.run(["server", "bootstrap", bare.name, "--json"]);
    expect(JSON.parse(json.stdout).changed).toEqual([]);
    // the running proxy and tenant were left alone
    expect((await mustOnServer(bare, ["docker", "inspect", "--format", "{{.Id}}", "btw-proxy"])).trim()).toBe(proxyBefore);
    expect((await viaProxy(bare, `${tenant}.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
  });
});
