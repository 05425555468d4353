import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorLines, stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";

// Host keys are shared state: two operators (two $BTW_HOME) on one PostgreSQL state see the
// same pins; only the first contact trusts on first use; `server trust --fingerprint` pins
// exactly the approved key and refuses anything else.
describe("host keys pinned in the shared state", () => {
  let pg: TestDatabase;
  let sshd: TestSshd;
  let a: BtwHome;
  let b: BtwHome;
  const pins = async () =>
    (await stateSql(a, `select key_type as type, fingerprint, source, pinned_at as at from host_keys where port = $1 order by key_type`, [sshd.port])) as Array<{
      type: string;
      fingerprint: string;
      source: string;
      at: Date;
    }>;

  beforeAll(async () => {
    [pg, sshd] = await Promise.all([createTestDatabase(), startSshd()]);
    a = tempHome({ BTW_DATABASE_URL: pg.url });
    expect((await a.run(["init", "--domain", "example.com", "--tls", "off"])).code).toBe(0);
    b = tempHome({ BTW_DATABASE_URL: pg.url });
    copyFileSync(join(a.dir, "master.key"), join(b.dir, "master.key"));
    const init = await b.run(["init", "--domain", "example.com", "--tls", "off"]);
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(async () => {
    a?.cleanup();
    b?.cleanup();
    await sshd?.stop();
    await pg?.drop();
  });

  it("the first contact (server add on A) pins the key in the state; B connects with that pin, scanning nothing", async () => {
    // --no-isolate: the "server" is this machine; its firewall is not the test's to change
    const add = await a.run(["server", "add", "loop", "--host", "127.0.0.1", "--port", String(sshd.port), "--ssh-key", sshd.clientKey, "--no-isolate"]);
    expect(add.code, add.stderr).toBe(0);
    const first = await pins();
    expect(first).toEqual([expect.objectContaining({ type: "ssh-ed25519", fingerprint: await sshd.hostKeyFingerprint(), source: "first-contact" })]);
    const check = await b.run(["server", "check", "loop"]);
    expect(check.code, check.stderr).toBe(0);
    expect(await pins()).toEqual(first); // not re-pinned by B
    expect(existsSync(join(a.dir, "known_hosts"))).toBe(false);
    expect(existsSync(join(b.dir, "known_hosts"))).toBe(false);
  });

  it("a changed key is refused on every host; trust --fingerprint refuses a key other than the approved one, then pins exactly the approved one", async () => {
    const old = await sshd.hostKeyFingerprint();
    await sshd.restartWithNewHostKey();
    const fresh = await sshd.hostKeyFingerprint();
    for (const h of [a, b]) {
      const r = await h.run(["server", "check", "loop"]);
      expect(r.code).toBe(1);
      expect(errorLines(r.stderr)[0]).toMatch(/host key of server 'loop' .* has changed: refusing to connect/);
    }
    const bad = await a.run(["server", "trust", "loop", "--fingerprint", "SHA256:nope"]);
    expect(bad.code).toBe(2);
    expect(errorLines(bad.stderr)).toHaveLength(1);
    const other = await a.run(["server", "trust", "loop", "--fingerprint", old]);
    expect(other.code).toBe(2);
    expect(errorLines(other.stderr)[0]).toMatch(/does not present the approved key .*: refusing to pin/);
    expect((await pins()).map((p) => p.fingerprint)).toEqual([old]);

    const dry = await b.run(["server", "trust", "loop", "--fingerprint", fresh, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect((await pins()).map((p) => p.fingerprint)).toEqual([old]);

    const ok = await b.run(["server", "trust", "loop", "--fingerprint", fresh, "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ server: "loop", pinned: [{ type: "ssh-ed25519", fingerprint: fresh }] });
    expect(await pins()).toEqual([expect.objectContaining({ fingerprint: fresh, source: "approved" })]);
    const againA = await a.run(["server", "check", "loop"]);
    expect(againA.code, againA.stderr).toBe(0);
  });

  it("a host pinned in a former $BTW_HOME/known_hosts is imported, not trusted anew", async () => {
    const c = tempHome({ BTW_DATABASE_URL: pg.url });
    try {
      copyFileSync(join(a.dir, "master.key"), join(c.dir, "master.key"));
      expect((await c.run(["init", "--domain", "example.com", "--tls", "off"])).code).toBe(0);
      await stateSql(a, `delete from host_keys where port = $1`, [sshd.port]);
      // a known_hosts with a key the server does not present: importing it must make the connection fail
      const { writeFileSync } = await import("node:fs");
      writeFileSync(join(c.dir, "known_hosts"), `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGg0tu0bdQ0SGS8HDlXw9v6aNFGr+6PU1Dtk0q3Vx1yB\n`);
      const r = await c.run(["server", "check", "loop"]);
      expect(r.code).toBe(1);
      expect(await pins()).toEqual([expect.objectContaining({ source: "imported" })]);
    } finally {
      c.cleanup();
    }
  });
});
