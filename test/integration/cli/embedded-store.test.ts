import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeLayout } from "../../../src/state/embedded/layout.js";
import { readServerStatus } from "../../../src/state/embedded/server.js";
import { ROOT, tempHome, type BtwHome } from "../../support/cli.js";

// The embedded default through the real CLI: `db status` shows the background server,
// `db stop` stops it (not from under another btw unless --force), a kill -9 between two
// commands is recovered, and several btw processes work at once.

interface Status {
  driver: string;
  server: { running: boolean; pid: number; since: string; socket: string; startedByThisCommand: boolean };
}

describe("btw on the embedded store", () => {
  let home: BtwHome;
  const status = async (): Promise<Status> => {
    const r = await home.run(["db", "status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Status;
  };

  beforeAll(async () => {
    home = tempHome();
    const r = await home.run(["init", "--domain", "example.com"]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await home?.run(["db", "stop", "--force"]);
    home?.cleanup();
  });

  it("db status: the server runs, since when, its pid and socket; db stop stops it; the next command starts it", async () => {
    const s = await status();
    expect(s.driver).toBe("embedded");
    expect(s.server).toMatchObject({ running: true, startedByThisCommand: false, socket: join(home.dir, "state", "pgdata", ".s.PGSQL.5432") });
    expect(Date.parse(s.server.since)).toBeGreaterThan(Date.now() - 10 * 60_000);
    const stop = await home.run(["db", "stop", "--json"]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toEqual({ stopped: true, pid: s.server.pid });
    expect(readServerStatus(storeLayout(join(home.dir, "state"))).alive).toBe(false);
    const again = await home.run(["db", "stop"]);
    expect(again.stdout).toMatch(/not running/);
    const s2 = await status();
    expect(s2.server).toMatchObject({ running: true, startedByThisCommand: true });
    expect(s2.server.pid).not.toBe(s.server.pid);
  });

  it("a server killed with -9 between two commands: the next command works", async () => {
    const { server } = await status();
    process.kill(server.pid, "SIGKILL");
    const r = await home.run(["server", "list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await status()).server.pid).not.toBe(server.pid);
  });

  it("db stop refuses while another btw is connected (exit 75, naming it); --force stops it", async () => {
    const holder = spawn(
      process.execPath,
      ["--import", "tsx", join(ROOT, "test/integration/state/fixtures/embedded-process.ts"), "lock", join(home.dir, "state"), "acme", "20000"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
        holder.once("exit", (c) => reject(new Error(`holder exited ${c}`)));
      });
      const r = await home.run(["db", "stop"]);
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(new RegExp(`pid ${holder.pid}\\b`));
      const forced = await home.run(["db", "stop", "--force"]);
      expect(forced.code, forced.stderr).toBe(0);
    } finally {
      holder.kill();
    }
  });

  it("doctor reports the store's health and size", async () => {
    const r = await home.run(["doctor", "--json"]);
    const checks = (JSON.parse(r.stdout) as { checks: { check: string; level: string; detail: string }[] }).checks;
    const store = checks.find((c) => c.check === "store");
    expect(store, r.stdout).toMatchObject({ level: "ok" });
    expect(store!.detail).toMatch(/PostgreSQL 17\.\d+, answered in \d+ ms, database [\d.]+ [KMG]B, data dir [\d.]+ [KMG]B, server pid \d+ since /);
  });

  it("several btw commands at once all succeed; none waits for another", async () => {
    const rs = await Promise.all([
      home.run(["server", "add", "x1", "--host", "192.0.2.11", "--no-verify"]),
      home.run(["server", "add", "x2", "--host", "192.0.2.12", "--no-verify"]),
      home.run(["server", "list", "--json"]),
      home.run(["tenant", "list", "--json"]),
      home.run(["db", "status", "--json"]),
    ]);
    for (const r of rs) expect(r.code, r.stderr).toBe(0);
    const list = await home.run(["server", "list", "--json"]);
    expect(list.stdout).toContain('"x1"');
    expect(list.stdout).toContain('"x2"');
  });
});
