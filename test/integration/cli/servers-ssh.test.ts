import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { errorLines, stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// `server add/check/trust/remove` against a real OpenSSH server on loopback.
describe("servers over real SSH", () => {
  let sshd: TestSshd;
  let home: BtwHome;
  // pins live in the state (host_keys), not in a file under $BTW_HOME
  const pinned = async () =>
    ((await stateSql(home, `select key_type || ' ' || public_key as line from host_keys where host = '127.0.0.1' and port = $1 order by 1`, [sshd.port])) as Array<{ line: string }>).map((r) => r.line);

  beforeAll(async () => {
    sshd = await startSshd();
    home = tempHome();
    const r = await home.run(["init", "--domain", "example.com"]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await sshd?.stop();
    home?.cleanup();
  });

  const listNames = async () => (JSON.parse((await home.run(["server", "list", "--json"])).stdout) as { servers: { name: string }[] }).servers.map((s) => s.name);

  it("an unreachable host exits 1, registers nothing and pins nothing", async () => {
    const r = await home.run(["server", "add", "gone", "--host", "127.0.0.1", "--port", "1", "--ssh-key", sshd.clientKey]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual(["error: cannot reach server 'gone' at 127.0.0.1:1: connection refused"]);
    expect(await listNames()).toEqual([]);
  });

  it("a refused key exits 1 naming the key, registers nothing and forgets the key it saw", async () => {
    const r = await home.run(["server", "add", "nokey", "--host", "127.0.0.1", "--port", String(sshd.port), "--ssh-key", sshd.strangerKey]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)[0]).toMatch(/refused SSH login as 'root' with the key .*stranger/);
    expect(await listNames()).toEqual([]);
    expect(await pinned()).toEqual([]);
  });

  it("add pins the host key on first contact and records the server's facts", async () => {
    // --no-isolate: the "server" is this machine; its firewall is not the test's to change
    const r = await home.run(["server", "add", "loop", "--host", "127.0.0.1", "--port", String(sshd.port), "--ssh-key", sshd.clientKey, "--capacity", "10", "--no-isolate", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { server: { name: string; capacity: number; facts: { cpus: number; memTotalBytes: number; diskFreeBytes: number } } };
    expect(out.server).toMatchObject({ name: "loop", capacity: 10 });
    expect(out.server.facts.cpus).toBeGreaterThan(0);
    expect(out.server.facts.memTotalBytes).toBeGreaterThan(0);
    expect((await pinned()).length).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(home.dir, "known_hosts"))).toBe(false);
    expect(r.stdout).not.toMatch(/BEGIN OPENSSH PRIVATE KEY/);
  });

  it("check records the facts again and passes", async () => {
    const r = await home.run(["server", "check", "loop", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { servers: { server: string; error: string | null; facts: { cpus: number } }[] };
    expect(out.servers[0]).toMatchObject({ server: "loop", error: null });
    expect(out.servers[0]!.facts.cpus).toBeGreaterThan(0);
    const show = JSON.parse((await home.run(["server", "show", "loop", "--json"])).stdout) as { server: { checkedAt: string } };
    expect(Date.parse(show.server.checkedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  // issue 22 item 10, with this machine's real iptables-save read over SSH (root here): it has
  // no BTW-ISOLATION, as a host freshly added
  it("a host without the tenant isolation rules: check records it, tenant create refuses it naming `btw server isolate`, doctor fails naming the same fix", async () => {
    const check = await home.run(["server", "check", "loop", "--json"]);
    expect(check.code, check.stderr).toBe(0);
    const out = JSON.parse(check.stdout) as { servers: { facts: { isolation: string; problems: string[] } }[] };
    expect(out.servers[0]!.facts.isolation).toBe("missing");
    expect(out.servers[0]!.facts.problems).toContainEqual(expect.stringMatching(/^tenant isolation is not in force on loop \(no BTW-ISOLATION chain; .*\): .*run `btw server isolate loop`$/));
    // as if its Docker were ready: still no tenant
    await stateSql(home, "update servers set status = 'active' where name = 'loop'");
    const create = await home.run(["tenant", "create", "acme", "--plan", "starter", "--server", "loop"]);
    expect(create.code).toBe(2);
    expect(errorLines(create.stderr)).toEqual(["error: server 'loop' takes no tenants: its tenant isolation rules are not in force (or were never checked)"]);
    expect(create.stderr).toMatch(/btw server isolate loop/);
    const doctor = await home.run(["doctor", "--json"]);
    expect(doctor.code).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; level: string; detail: string; fix?: string }[] }).checks;
    expect(checks.find((c) => c.check === "isolation loop")).toMatchObject({ level: "fail", detail: expect.stringMatching(/^tenant isolation is not in force on loop \(no BTW-ISOLATION chain/), fix: "btw server isolate loop" });
  });

  it("a changed host key is refused, naming the re-pin command; trust re-pins", async () => {
    const before = await pinned();
    await sshd.restartWithNewHostKey();
    const r = await home.run(["server", "check", "loop"]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)[0]).toMatch(/host key of server 'loop' at 127\.0\.0\.1:\d+ has changed: refusing to connect/);
    expect(r.stderr).toMatch(/btw server trust loop/);
    expect(await pinned()).toEqual(before); // the old pin is kept until the operator decides

    const trust = await home.run(["server", "trust", "loop", "--yes"]);
    expect(trust.code, trust.stderr).toBe(0);
    expect((await pinned()).length).toBeGreaterThanOrEqual(1);
    expect(await pinned()).not.toEqual(before);
    expect(trust.stdout).toContain(await sshd.hostKeyFingerprint());
    const again = await home.run(["server", "check", "loop"]);
    expect(again.code, again.stderr).toBe(0);
  });

  it("every mutation left an audit row, without secrets", async () => {
    const r = await home.run(["audit", "--json"]);
    const actions = (JSON.parse(r.stdout) as { entries: { action: string; target: string }[] }).entries.map((e) => `${e.action} ${e.target}`);
    expect(actions).toEqual(expect.arrayContaining(["init " + join(home.dir, "btw.yml"), "server.add loop", "server.trust loop"]));
    expect(actions).not.toContain("server.add gone");
    const servers = JSON.parse((await home.run(["audit", "--action", "server.", "--json"])).stdout) as { entries: { action: string }[] };
    expect(servers.entries.length).toBeGreaterThanOrEqual(3);
    expect(servers.entries.every((e) => e.action.startsWith("server."))).toBe(true);
  });

  it("remove unregisters with --yes; --dry-run changes nothing", async () => {
    const dry = await home.run(["server", "remove", "loop", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(await listNames()).toEqual(["loop"]);
    const r = await home.run(["server", "remove", "loop", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await listNames()).toEqual([]);
  });
});
