// `btw server bootstrap` on the lab's bare VM — Debian trixie with sshd and nothing else —
// turns it into a btw server: Docker Engine + Compose v2, the hardening, the proxy; `server
// check` passes, a tenant runs there, and a second bootstrap changes nothing. Then what
// `infra apply` does after Terraform, with a script standing in for terraform (Hetzner is
// out of reach): register the server from the stack's outputs and converge it.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BtwHome } from "../support/cli.js";
import { LAB_DOMAIN, labHome, viaProxy } from "../support/lab-home.js";
import { LAB_IMAGES_TIMEOUT_MS, freshBareServer, labInfo, mustOnServer, onServer, uniqueName, type LabInfo, type LabServer } from "./support/lab.js";

describe("server bootstrap on a bare Debian host", () => {
  let lab: LabInfo;
  let bare: LabServer;
  let home: BtwHome;
  const tenant = uniqueName("boot");
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    lab = labInfo();
    bare = await freshBareServer(); // a new disk: no Docker, whatever an earlier run did (its image built on first use)
    home = await labHome(lab, { servers: [] });
    // The lab registry speaks plain HTTP: the new engine must be told, through btw's config.
    const file = join(home.dir, "btw.yml");
    const config = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, stringify({ ...config, bootstrap: { insecureRegistries: [lab.registry] } }));
  }, LAB_IMAGES_TIMEOUT_MS); // the lab lock may be held by another lane's image build

  afterAll(async () => {
    if (home) {
      await home.run(["tenant", "delete", tenant, "--purge", "--no-final-backup", "--yes"]);
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
    // a new engine: user namespaces remapped (issue 24)
    expect(daemon).toEqual({ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" }, "live-restore": true, "userns-remap": "default", "insecure-registries": [lab.registry] });
    expect(await mustOnServer(bare, ["docker", "info", "--format", "{{.SecurityOptions}}"])).toContain("name=userns");
    for (const pkg of ["fail2ban", "unattended-upgrades"]) await mustOnServer(bare, ["dpkg-query", "-W", pkg]);
    expect(await mustOnServer(bare, ["cat", "/etc/apt/apt.conf.d/20auto-upgrades"])).toContain('APT::Periodic::Unattended-Upgrade "1";');
    await mustOnServer(bare, ["test", "-d", "/opt/btw/tenants"]);

    const check = await home.run(["server", "check", bare.name, "--json"]);
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout).servers[0]).toMatchObject({ server: bare.name, status: "active", error: null });
    // the tenant isolation rules bootstrap installed, read back from the kernel by the check (issue 22 item 10)
    expect(JSON.parse(check.stdout).servers[0].facts).toMatchObject({ isolation: "in-place", usernsRemap: true });
    expect((await home.run(["server", "show", bare.name])).stdout).toMatch(/user namespaces remapped/);
  });

  it("runs a tenant there", async () => {
    // Image distribution is not the bootstrap's job; pull the 2+ GB of lab images up front
    // so `tenant create` stays within the CLI helper's 120 s limit.
    const started = Date.now();
    for (const ref of Object.values(lab.images)) await mustOnServer(bare, ["docker", "pull", "-q", ref], { timeoutMs: 600_000 });
    timings.pull = (Date.now() - started) / 1000;
    // the prepared database built and cloned on a remapped engine: its archive leaves the
    // throwaway container on stdout, and the clone reads it through a read-only mount
    const { prepareAndClone } = await import("../../src/core/tenant/prepared-db.js");
    const prepared = await onServer(bare, prepareAndClone({ n8nImage: lab.images.n8n, postgresImage: lab.images.postgres, wait: true }), { timeoutMs: 600_000 });
    expect(prepared.code, prepared.stderr).toBe(0);
    expect(prepared.stdout).toMatch(/^prepared [0-9a-f]{16} built$/m);
    const createdAt = Date.now();
    const r = await home.run(["tenant", "create", tenant, "--plan", "starter", "--server", bare.name]);
    timings.tenantCreate = (Date.now() - createdAt) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/clone the prepared n8n database: [0-9a-f]{16}/);
    const page = await viaProxy(bare, `${tenant}.${LAB_DOMAIN}`, "/healthz");
    expect(page.status).toBe(200);
    // remapped: the tenant's processes are unprivileged host uids (Postgres's 999 is 100999,
    // n8n's and its runner's 1000 is 101000); the proxy keeps the host's namespace
    const uids = async (c: string) => (await mustOnServer(bare, ["sh", "-c", 'for p in $(docker top "$1" -eo pid | tail -n +2); do stat -c %u "/proc/$p"; done | sort -u', "sh", c])).trim().split("\n").map(Number);
    for (const c of [`btw-${tenant}-postgres`, `btw-${tenant}-n8n`, `btw-${tenant}-runner`]) {
      const seen = await uids(c);
      expect(seen.length, c).toBeGreaterThan(0);
      for (const u of seen) expect(u, `${c} runs as host uid ${u}`).toBeGreaterThanOrEqual(100000);
    }
    expect((await mustOnServer(bare, ["docker", "inspect", "--format", "{{.HostConfig.UsernsMode}}", "btw-proxy"])).trim()).toBe("host");
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

  it("infra apply registers the servers from the stack's outputs and converges them (terraform stood in by a script)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "btw-fake-tf-"));
    const applyHome = await labHome(lab, { servers: [] });
    try {
      writeFileSync(join(dir, "plan.json"), JSON.stringify({
        format_version: "1.2",
        resource_changes: [{ address: "hcloud_server.server_btw-1", mode: "managed", type: "hcloud_server", change: { actions: ["create"], before: null, after: { name: "btw-1", server_type: "cpx32" } } }],
      }));
      writeFileSync(join(dir, "output.json"), JSON.stringify({
        "server_btw-1": { sensitive: false, value: { name: "btw-1", id: "4711", ipv4: bare.host, ipv6: "2001:db8::1", private_ip: "10.0.1.11", role: "tenant", server_type: "cpx32" } },
      }));
      const fake = join(dir, "terraform");
      writeFileSync(fake, [
        "#!/bin/sh",
        `printf '%s token=%s\\n' "$*" "\${HCLOUD_TOKEN:+yes}" >> ${dir}/calls.log`,
        'case "$1" in',
        `  plan) for a; do case "$a" in -out=*) : > "\${a#-out=}" ;; esac; done ;;`,
        `  show) cat ${dir}/plan.json ;;`,
        `  output) cat ${dir}/output.json ;;`,
        "esac",
        "",
      ].join("\n"));
      chmodSync(fake, 0o755);
      const file = join(applyHome.dir, "btw.yml");
      const config = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      writeFileSync(file, stringify({
        ...config,
        ssh: { identityFile: bare.sshKey },
        bootstrap: { insecureRegistries: [lab.registry] },
        hetzner: { servers: 1, adminCidrs: ["172.29.0.1/32"], sshKeys: [{ name: "lab", publicKey: readFileSync(`${bare.sshKey}.pub`, "utf8").trim() }] },
        terraform: { path: fake },
      }));

      const token = "hcloud-e2e-token-value";
      const r = await applyHome.run(["infra", "apply", "--json"], { env: { HCLOUD_TOKEN: token } });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).servers).toEqual([{ server: "btw-1", added: true, status: "active", changed: [], error: null }]);
      expect(r.stderr).toMatch(/btw-1: cloud-init is missing; bootstrapping over SSH/);
      const shown = JSON.parse((await applyHome.run(["server", "show", "btw-1", "--json"])).stdout);
      expect(JSON.stringify(shown)).toContain('"providerId":"4711"');
      // the token reached terraform through its environment only, and only where Hetzner is called
      const calls = readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
      expect(calls.map((c) => c.split(" ")[0] + " " + c.split(" ").pop())).toEqual(["init token=", "plan token=yes", "show token=", "apply token=yes", "output token="]);
      expect(calls.join("\n")).not.toContain(token);
    } finally {
      applyHome.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
