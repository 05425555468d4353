import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeLayout } from "../../../src/state/embedded/layout.js";
import { readServerStatus } from "../../../src/state/embedded/server.js";
import { BTW, stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// `btw completion bash` loaded into a real bash, completing names from a real state through
// the real, built btw (`btw __complete`); and `__complete` itself: nothing but names on
// stdout, nothing at all when the state cannot be read cheaply — never an error, never an
// embedded server started for it.

/** A loaded machine (the suite shares two cores) must not turn the deadline into a flake. */
const SLOW_OK = { BTW_COMPLETE_TIMEOUT_MS: "30000" };

describe("shell completion against a real state", () => {
  let pg: TestDatabase;
  let home: BtwHome;
  let bin: string;

  beforeAll(async () => {
    pg = await createTestDatabase();
    home = tempHome({ BTW_DATABASE_URL: pg.url, ...SLOW_OK });
    const init = await home.run(["init", "--domain", "example.com", "--tls", "off"]);
    expect(init.code, init.stderr).toBe(0);
    await stateSql(home, `insert into servers (name, host, capacity, status) values ('fsn1-2', '192.0.2.2', 10, 'active'), ('fsn1-1', '192.0.2.1', 10, 'active')`);
    await stateSql(
      home,
      `insert into tenants (slug, plan, server_id, status, subnet)
         select v.slug, 'starter', s.id, v.status, v.subnet::cidr from servers s,
           (values ('globex', 'active', '10.220.0.0/26'), ('acme', 'suspended', '10.220.0.64/26'), ('gone', 'deleted', '10.220.0.128/26')) v(slug, status, subnet)
          where s.name = 'fsn1-1'`,
    );
    await stateSql(home, `insert into backups (id, tenant_slug, location, status, size_bytes, sha256, finished_at) values ('acme-20260101T000000Z-0001', 'acme', '/x', 'done', 1, $1, now())`, ["0".repeat(64)]);
    // the `btw` a shell finds on its PATH: the built one (execa strips the last newline of run())
    bin = mkdtempSync(join(tmpdir(), "btw-bin-"));
    writeFileSync(join(bin, "btw"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BTW)} "$@"\n`);
    chmodSync(join(bin, "btw"), 0o755);
  });
  afterAll(async () => {
    home?.cleanup();
    await pg?.drop();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  it("__complete prints the names, one per line: live tenants, servers, completed backups, plans", async () => {
    const names = async (kind: string) => {
      const r = await home.run(["__complete", kind]);
      expect(r, kind).toMatchObject({ code: 0, stderr: "" });
      return r.stdout;
    };
    expect(await names("tenants")).toBe("acme\nglobex");
    expect(await names("servers")).toBe("fsn1-1\nfsn1-2");
    expect(await names("backups")).toBe("acme-20260101T000000Z-0001");
    expect(await names("plans")).toBe("starter\npro\nbusiness\nenterprise");
    expect(await names("bogus")).toBe("");
  });

  it("is not in --help", async () => {
    const r = await home.run(["--help"]);
    expect(r.stdout).toContain("completion <shell>");
    expect(r.stdout).not.toContain("__complete");
  });

  it("`source <(btw completion bash)` in a real bash completes commands, subcommands, flags and the state's names", async () => {
    const env = { ...home.env, PATH: `${bin}:${home.env.PATH}` };
    const bash = (script: string, words: string[]) => {
      const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `${script} && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _btw && printf "%s\\n" "\${COMPREPLY[@]}"`, "bash", ...words], { env, cwd: home.dir, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    // as the README says to load it, once; then from a file (a btw start per line is slow here)
    expect(bash("source <(btw completion bash)", ["btw", "ten"])).toEqual(["tenant"]);
    const file = join(bin, "btw.bash");
    writeFileSync(file, (await home.run(["completion", "bash"])).stdout);
    const complete = (...words: string[]) => bash(`source ${file}`, words);
    expect(complete("btw", "tenant", "")).toEqual(["content", "create", "delete", "domain", "exec", "export", "list", "logs", "migrate", "resume", "secrets", "set-plan", "show", "status", "suspend"]);
    expect(complete("btw", "tenant", "create", "--")).toEqual(expect.arrayContaining(["--dry-run", "--plan", "--server", "--timezone", "--json", "--config"]));
    expect(complete("btw", "tenant", "show", "")).toEqual(["acme", "globex"]);
    expect(complete("btw", "tenant", "suspend", "gl")).toEqual(["globex"]);
    expect(complete("btw", "tenant", "migrate", "acme", "--to", "")).toEqual(["fsn1-1", "fsn1-2"]);
    expect(complete("btw", "backup", "show", "")).toEqual(["acme-20260101T000000Z-0001"]);
  });

  it("an unreachable state: nothing on stdout or stderr, exit 0, within the deadline", async () => {
    const t0 = Date.now();
    const r = await home.run(["__complete", "tenants"], { env: { BTW_DATABASE_URL: "postgres://btw:x@127.0.0.1:9/btw", BTW_COMPLETE_TIMEOUT_MS: "" } });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it("no configuration: nothing, exit 0", async () => {
    const r = await home.run(["__complete", "tenants"], { env: { BTW_HOME: join(home.dir, "nowhere") }, cwd: tmpdir() });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });
});

describe("__complete on the embedded store", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = tempHome(SLOW_OK);
    const init = await home.run(["init", "--domain", "example.com"]);
    expect(init.code, init.stderr).toBe(0);
    await stateSql(home, `insert into servers (name, host, capacity) values ('nbg1-1', '192.0.2.3', 10)`);
  });
  afterAll(() => home?.cleanup());

  it("reads the running server; a stopped one is not started, and nothing is printed", async () => {
    const running = await home.run(["__complete", "servers"]);
    expect(running).toMatchObject({ code: 0, stdout: "nbg1-1", stderr: "" });
    const stop = await home.run(["db", "stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    const stopped = await home.run(["__complete", "servers"]);
    expect(stopped).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(readServerStatus(storeLayout(join(home.dir, "state"))).alive).toBe(false);
  });
});
