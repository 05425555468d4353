import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorLines, tempHome, type BtwHome } from "../../support/cli.js";

// Bad input: exit 2, one error line saying what is wrong (and a hint), nothing changed.
describe("bad input", () => {
  let home: BtwHome;
  let auditBefore: number;

  beforeAll(async () => {
    home = tempHome();
    const init = await home.run(["init", "--domain", "example.com", "--tls", "off"]);
    expect(init.code, init.stderr).toBe(0);
    const added = await home.run(["server", "add", "s1", "--host", "192.0.2.10", "--no-verify"]);
    expect(added.code, added.stderr).toBe(0);
    auditBefore = await auditCount();
  });
  afterAll(() => home.cleanup());

  async function auditCount(): Promise<number> {
    const r = await home.run(["audit", "--json", "--limit", "100000"]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { entries: unknown[] }).entries.length;
  }

  async function expectUnchanged() {
    const list = await home.run(["server", "list", "--json"]);
    expect((JSON.parse(list.stdout) as { servers: { name: string }[] }).servers.map((s) => s.name)).toEqual(["s1"]);
    expect(await auditCount()).toBe(auditBefore);
  }

  it.each([
    ["unknown command", ["bogus"], /unknown command 'bogus'/],
    ["unknown flag", ["server", "list", "--bogus"], /unknown option '--bogus'/],
    ["missing required flag", ["server", "add", "s2"], /required option '--host <addr>' not specified/],
    ["non-integer port", ["server", "add", "s2", "--host", "192.0.2.11", "--port", "22x"], /expected an integer/],
    ["invalid server name", ["server", "add", "S 1;rm", "--host", "192.0.2.11", "--no-verify"], /server name "S 1;rm" has uppercase letters/],
    ["metacharacters in a server name", ["server", "add", "a$(id)", "--host", "192.0.2.11", "--no-verify"], /may only contain a-z, 0-9 and '-'/],
    ["an option-looking host", ["server", "add", "s3", "--host", "-oProxyCommand=x", "--no-verify"], /must not start with '-'/],
    ["duplicate server name", ["server", "add", "s1", "--host", "192.0.2.12", "--no-verify"], /server 's1' already exists/],
    ["unknown server", ["server", "show", "nope"], /server 'nope' does not exist/],
    ["unreadable ssh key", ["server", "add", "s4", "--host", "192.0.2.13", "--ssh-key", "/nonexistent/key"], /not a readable file/],
    ["upgrade postgres to no major", ["upgrade", "postgres", "--all", "--to", "seventeen"], /is not a Postgres major \(e\.g\. 17\) or an image/],
    ["upgrade postgres --cleanup of no one tenant", ["upgrade", "postgres", "--cleanup", "--all", "--yes"], /--cleanup takes exactly one --tenant/],
    ["upgrade postgres of an unknown tenant", ["upgrade", "postgres", "--tenant", "nope", "--to", "17"], /unknown tenant\(s\): nope/],
    ["upgrade redis to a major", ["upgrade", "redis", "--all", "--to", "8"], /is not a Redis version/],
    ["a private ip that is a name", ["server", "add", "s5", "--host", "192.0.2.14", "--private-ip", "internal.example.com", "--no-verify"], /--private-ip "internal\.example\.com" is not an IPv4 or IPv6 address/],
    ["a private ip out of range", ["server", "add", "s5", "--host", "192.0.2.14", "--private-ip", "10.0.1.300", "--no-verify"], /--private-ip "10\.0\.1\.300" is not an IPv4/],
    ["isolate an unknown server", ["server", "isolate", "nope"], /server 'nope' does not exist/],
  ])("%s exits 2 with one error line", async (_name, args, message) => {
    const r = await home.run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const errors = r.stderr.split("\n").filter((l) => /^error:?/.test(l));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    await expectUnchanged();
  });

  it("server isolate --dry-run names each server's rules and changes nothing", async () => {
    const r = await home.run(["server", "isolate", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { dryRun: boolean; servers: Array<{ server: string; rules: { tenantSources: string[]; privateRanges: string[] } }> };
    expect(plan).toMatchObject({ dryRun: true, servers: [{ server: "s1", rules: { tenantSources: ["10.220.0.0/16"], privateRanges: ["10.0.0.0/16"] } }] });
    await expectUnchanged();
  });

  it("a --json error is also an object on stdout", async () => {
    const r = await home.run(["server", "show", "nope", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "server-not-found", exitCode: 2 } });
  });

  describe("configuration", () => {
    const withConfig = async (text: string) => {
      const file = join(home.dir, "bad.yml");
      writeFileSync(file, text);
      return home.run(["--config", file, "server", "list"]);
    };

    it("malformed YAML names line and column", async () => {
      const r = await withConfig("domain: example.com\nssh: [user: root\n");
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/bad\.yml is not valid YAML/);
      expect(r.stderr).toMatch(/bad\.yml:\d+:\d+: /);
    });

    it("reports every wrong type and unknown key at once, each with its line", async () => {
      const r = await withConfig(["domain: example.com", "ssh:", "  port: twenty-two", "  usr: root", "proxy:", "  tls: maybe", "colour: blue", ""].join("\n"));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/has 4 errors/);
      expect(r.stderr).toMatch(/bad\.yml:3:\d+: ssh\.port: Invalid input: expected number/);
      expect(r.stderr).toMatch(/bad\.yml:4:3: ssh\.usr: unknown key/);
      expect(r.stderr).toMatch(/bad\.yml:6:\d+: proxy\.tls: Invalid option/);
      expect(r.stderr).toMatch(/bad\.yml:7:1: colour: unknown key/);
    });

    it("an unpinned image is refused", async () => {
      const r = await withConfig("domain: example.com\nimages:\n  n8n: n8nio/n8n\n");
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/images\.n8n: must be pinned/);
    });

    it("a missing --config file says so", async () => {
      const r = await home.run(["--config", "/nonexistent/btw.yml", "server", "list"]);
      expect(r.code).toBe(2);
      expect(errorLines(r.stderr)[0]).toMatch(/no configuration file at \/nonexistent\/btw\.yml/);
    });
  });

  it("an unreachable database URL exits 1 with a hint and never prints the password", async () => {
    const r = await home.run(["server", "list"], { env: { BTW_DATABASE_URL: "postgres://btw:hunter2-secret@127.0.0.1:1/btw" } });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)[0]).toMatch(/cannot connect to the state database postgres:\/\/btw@127\.0\.0\.1:1\/btw: connect ECONNREFUSED/);
    expect(r.stderr).toMatch(/hint: check that the server is up/);
    expect(r.stderr + r.stdout).not.toContain("hunter2");
  });

  it("refuses to run a destructive verb without --yes when it cannot prompt", async () => {
    const r = await home.run(["server", "remove", "s1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/re-run with --yes/);
    await expectUnchanged();
  });
});
