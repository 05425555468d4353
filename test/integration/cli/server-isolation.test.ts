// issue 22 item 10: isolation was never checked. A host added with `server add` passed
// readiness and received tenants without BTW-ISOLATION, and a flushed ruleset went unnoticed.
// Here the real commands (`server add`, `server check`, `server isolate`, `tenant create
// --dry-run`, `status`, `doctor`) run in-process against the real PostgreSQL state; the one
// seam replaced is the SSH client: a FAKE host that answers btw's remote commands as a
// Debian server with Docker would — its filter table is whatever the isolation script it was
// given last put there (parsed from the script's iptables-restore input), or none; a flush
// empties it. Its Docker API (for `status`) is a FAKE engine with no containers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Ctx } from "../../../src/cli/context.js";
import { HOST_FACTS_SCRIPT } from "../../../src/core/commands/host-facts.js";
import { WRITE_FILE_ATOMIC_SCRIPT } from "../../../src/core/commands/files.js";
import { ISOLATION_LAYOUT } from "../../../src/core/server/isolation.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { fakeDockerApi } from "../../support/fake-server.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

interface FakeHost {
  files: Map<string, string>;
  /** what `iptables-save -t filter` prints; null: the host never had our chains */
  saved: string | null;
  commands: string[][];
}

const fake = vi.hoisted(() => ({ hosts: new Map<string, FakeHost>(), dockerSocket: "" }));

const BARE = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n";

/** The filter table after the isolation script ran: its iptables-restore input, plus the jumps it ensures. */
function applied(script: string): string {
  const lines = script.split("\n");
  const rules = lines.slice(lines.indexOf("*filter") + 1, lines.indexOf("COMMIT"));
  return ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":DOCKER-USER - [0:0]", ...rules.filter((l) => l.startsWith(":")), "-A INPUT -j BTW-ISOLATION-INPUT", "-A FORWARD -j DOCKER-USER", "-A DOCKER-USER -j BTW-ISOLATION", "-A DOCKER-USER -j RETURN", ...rules.filter((l) => l.startsWith("-A")), "COMMIT", ""].join("\n");
}

function answer(host: FakeHost, argv: readonly string[], input?: string): { stdout: string; stderr: string; exitCode: number } {
  host.commands.push([...argv]);
  const ok = (stdout = "") => ({ stdout, stderr: "", exitCode: 0 });
  const line = argv.join(" ");
  if (argv[2] === HOST_FACTS_SCRIPT) return ok("cpus=4\nmem_total_kb=8000000\nmem_available_kb=6000000\ndisk_path=/var/lib/docker\ndisk_total_kb=80000000\ndisk_free_kb=60000000\nkernel=6.1.0\narch=x86_64\nos=Debian GNU/Linux 12 (bookworm)\n");
  if (line === "docker version --format {{.Server.Version}}") return ok("27.5.1\n");
  if (line === "docker compose version --short") return ok("2.29.7\n");
  if (argv.includes("iptables-save")) return ok(host.saved ?? BARE);
  if (argv[2] === WRITE_FILE_ATOMIC_SCRIPT) {
    host.files.set(argv[4]!, input ?? "");
    return ok();
  }
  if (argv[0] === "cat") return host.files.has(argv[1]!) ? ok(host.files.get(argv[1]!)) : { stdout: "", stderr: "No such file", exitCode: 1 };
  if (line === "test -d /run/systemd/system") return { stdout: "", stderr: "", exitCode: 1 };
  if (line === `sh ${ISOLATION_LAYOUT.script}`) {
    host.saved = applied(host.files.get(ISOLATION_LAYOUT.script)!);
    return ok("btw-isolation applied\n");
  }
  return ok();
}

// The SSH boundary: every client btw makes talks to the fake host at its address; host keys
// are taken as pinned.
vi.mock("../../../src/remote/ssh.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../src/remote/ssh.js")>();
  class FakeSshClient {
    readonly name: string;
    private readonly host: string;
    constructor(o: { name: string; host: string }) {
      this.name = o.name;
      this.host = o.host;
    }
    private target(): FakeHost {
      const h = fake.hosts.get(this.host);
      if (!h) throw new Error(`cannot reach server '${this.name}' at ${this.host}:22: connection refused`);
      return h;
    }
    async connect(): Promise<void> {
      this.target();
    }
    async run(argv: readonly string[], o: { input?: string; allowFailure?: boolean } = {}) {
      const r = answer(this.target(), argv, o.input);
      if (r.exitCode !== 0 && !o.allowFailure) throw new Error(`${argv.join(" ")} failed on ${this.name}: ${r.stderr}`);
      return r;
    }
    async forwardUnixSocket() {
      this.target();
      return { localPath: fake.dockerSocket, close: async () => {} };
    }
    async close(): Promise<void> {}
  }
  return { ...real, SshClient: FakeSshClient };
});
// Commands take their client from sshFor; its own dynamic import of the SSH module, made by
// several servers' tasks at once (status), was seen to hand one of them the real client.
vi.mock("../../../src/ops/server/context.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../src/ops/server/context.js")>();
  const { SshClient } = await import("../../../src/remote/ssh.js");
  return { ...real, sshFor: async (_ctx: unknown, s: { name: string; host: string }) => new SshClient(s as never) };
});
vi.mock("../../../src/ops/host-keys.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../src/ops/host-keys.js")>()),
  ensureHostPinned: async () => {},
}));

let tdb: TestDatabase;
let home: string;
let docker: Server;
let db: Db;

const HANDLERS = {
  "server/add": () => import("../../../src/commands/server/add.js"),
  "server/check": () => import("../../../src/commands/server/check.js"),
  "server/isolate": () => import("../../../src/commands/server/isolate.js"),
  "tenant/create": () => import("../../../src/commands/tenant/create.js"),
  status: () => import("../../../src/commands/status.js"),
  doctor: () => import("../../../src/commands/doctor.js"),
};

/** Runs one command's handler as `btw` would; its exit code (an error's too), stdout and stderr. */
async function btw(command: keyof typeof HANDLERS, args: unknown[], opts: Record<string, unknown> = {}): Promise<{ code: number; stdout: string; stderr: string; error?: { code?: string; message: string; hint?: string } }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const io = { stdout, stderr, stdin: new PassThrough(), env: { BTW_HOME: home, BTW_DATABASE_URL: tdb.url, PATH: process.env.PATH ?? "/usr/bin:/bin" }, cwd: home, stdinIsTTY: false, stderrIsTTY: false };
  const ctx = new Ctx(io, { json: true, verbose: false, color: false, nonInteractive: true }, `btw ${command}`);
  const text = () => ({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
  try {
    await ctx.prepare();
    const { default: handler } = await HANDLERS[command]();
    const code = ((await handler(ctx, args, opts)) as number | undefined) ?? 0;
    return { code, ...text() };
  } catch (e) {
    const error = e as { code?: string; message: string; hint?: string; exitCode?: number };
    return { code: error.exitCode ?? 1, ...text(), error: { code: error.code, message: error.message, hint: error.hint } };
  } finally {
    await ctx.close();
  }
}

const host = (address: string): FakeHost => {
  const h: FakeHost = { files: new Map(), saved: null, commands: [] };
  fake.hosts.set(address, h);
  return h;
};
const facts = async (name: string) => ((await db.query<{ facts: Record<string, unknown> }>(`select facts from servers where name = $1`, [name])).rows[0]!.facts);
const createDryRun = (server?: string) => btw("tenant/create", ["acme"], { plan: "starter", dryRun: true, ...(server ? { server } : {}) });
const flush = (h: FakeHost) => {
  h.saved = h.saved!.split("\n").filter((l) => !l.startsWith("-A BTW-ISOLATION")).join("\n");
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openDb({ url: tdb.url, dataDir: "unused" });
  await migrate(db);
  home = mkdtempSync(join(tmpdir(), "btw-server-isolation-"));
  writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
  fake.dockerSocket = join(home, "docker.sock");
  docker = await fakeDockerApi(fake.dockerSocket); // no containers: no tenants in this file
}, 120_000);

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  await new Promise<void>((r) => (docker ? docker.close(() => r()) : r()));
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("a server takes tenants only once its tenant isolation is in force", () => {
  let one: FakeHost;
  let two: FakeHost;

  it("server add on a host whose Docker answers installs the rules, checks them, and the server takes tenants", async () => {
    one = host("192.0.2.11");
    const r = await btw("server/add", ["one"], { host: "192.0.2.11", capacity: 12 });
    expect(r.code, r.stderr + JSON.stringify(r.error)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ server: { name: "one", status: "active" }, takesTenants: true });
    expect(one.files.get(ISOLATION_LAYOUT.script)).toContain("iptables-restore -w --noflush");
    expect(await facts("one")).toMatchObject({ isolation: "in-place", verdict: "ready", problems: [] });
    const plan = await createDryRun();
    expect(plan.code, JSON.stringify(plan.error)).toBe(0);
    expect(JSON.parse(plan.stdout).plan.server).toBe("one");
  });

  it("with --no-isolate: registered, refused for tenants naming `btw server isolate`; isolate installs and checks, then it takes them", async () => {
    two = host("192.0.2.12");
    const r = await btw("server/add", ["two"], { host: "192.0.2.12", capacity: 48, isolate: false });
    expect(r.code, r.stderr + JSON.stringify(r.error)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ server: { name: "two", status: "active" }, takesTenants: false });
    expect(r.stderr).toContain("two takes no tenants until its tenant isolation rules are in force: `btw server isolate two`");
    expect(two.files.has(ISOLATION_LAYOUT.script)).toBe(false);
    expect(await facts("two")).toMatchObject({ isolation: "missing", verdict: "needs-isolation" });
    // the most room, but not isolated: placement goes to `one`, and refuses `two` when asked for
    expect(JSON.parse((await createDryRun()).stdout).plan.server).toBe("one");
    const refused = await createDryRun("two");
    expect(refused.code).toBe(2);
    expect(refused.error).toMatchObject({ code: "server-not-isolated", hint: expect.stringContaining("btw server isolate two") });

    const iso = await btw("server/isolate", [["two"]]);
    expect(iso.code, iso.stderr + JSON.stringify(iso.error)).toBe(0);
    expect(JSON.parse(iso.stdout).results).toEqual([expect.objectContaining({ server: "two", ok: true, isolation: "in-place" })]);
    expect(await facts("two")).toMatchObject({ isolation: "in-place" });
    expect(JSON.parse((await createDryRun("two")).stdout).plan.server).toBe("two");
  });

  it("one's rules predate two: status reports the drift (degraded, exit 3) naming the fix; isolate brings it back, exit 0", async () => {
    const r = await btw("status", []);
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout) as { healthy: boolean; servers: Array<{ server: string; isolation: string; isolationProblems: string[] }> };
    expect(doc.healthy).toBe(false);
    expect(doc.servers.map((s) => [s.server, s.isolation]), r.stdout).toEqual([["one", "drift"], ["two", "in-place"]]);
    expect(doc.servers[0]!.isolationProblems).toEqual([expect.stringMatching(/^the tenant isolation rules on one differ from btw's: BTW-ISOLATION: 2 rule\(s\) missing .*192\.0\.2\.12\/32.*; run `btw server isolate one`$/)]);
    expect((await btw("server/isolate", [["one"]])).code).toBe(0);
    const again = await btw("status", []);
    expect(again.code, again.stdout).toBe(0);
    expect((JSON.parse(again.stdout) as { healthy: boolean }).healthy).toBe(true);
  });

  it("a flushed ruleset: status is degraded (exit 3), doctor fails naming `btw server isolate one`, and once a check records it, one takes no tenants", async () => {
    flush(one);
    const r = await btw("status", []);
    expect(r.code).toBe(3);
    const row = (JSON.parse(r.stdout) as { servers: Array<{ server: string; isolation: string; isolationProblems: string[] }> }).servers.find((s) => s.server === "one")!;
    expect(row.isolation).toBe("missing");
    expect(row.isolationProblems[0]).toMatch(/^tenant isolation is not in force on one \(BTW-ISOLATION is empty \(flushed\); BTW-ISOLATION-INPUT is empty \(flushed\)\): .*btw server isolate one/);

    const doctor = await btw("doctor", [], {});
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ check: string; level: string; detail: string; fix?: string }> }).checks;
    expect(doctor.code).toBe(1);
    expect(checks.find((c) => c.check === "isolation one")).toEqual({
      check: "isolation one",
      level: "fail",
      detail: "tenant isolation is not in force on one (BTW-ISOLATION is empty (flushed); BTW-ISOLATION-INPUT is empty (flushed)): tenants can reach the host and the platform",
      fix: "btw server isolate one",
    });
    expect(checks.find((c) => c.check === "isolation two")).toMatchObject({ level: "ok" });

    const check = await btw("server/check", [["one"]]);
    expect(check.code).toBe(0);
    expect(await facts("one")).toMatchObject({ isolation: "missing", verdict: "needs-isolation" });
    expect((await createDryRun("one")).error).toMatchObject({ code: "server-not-isolated" });
    expect(JSON.parse((await createDryRun()).stdout).plan.server).toBe("two");
  });

  it("server isolate re-applies the rules and the check that follows lets one take tenants again", async () => {
    expect((await btw("server/isolate", [["one"]])).code).toBe(0);
    expect(await facts("one")).toMatchObject({ isolation: "in-place" });
    expect(JSON.parse((await createDryRun("one")).stdout).plan.server).toBe("one");
    expect((await btw("status", [])).code).toBe(0);
  });

  it("server add re-applies the other servers' rules (they name the new one now): no drift left behind", async () => {
    const three = host("192.0.2.13");
    const r = await btw("server/add", ["three"], { host: "192.0.2.13", capacity: 12 });
    expect(r.code, r.stderr + JSON.stringify(r.error)).toBe(0);
    expect(three.saved).toContain("-d 192.0.2.11/32");
    for (const h of [one, two]) expect(h.saved).toContain("-d 192.0.2.13/32 -j DROP");
    const st = await btw("status", []);
    expect(st.code, st.stdout).toBe(0);
    expect((JSON.parse(st.stdout) as { servers: Array<{ isolation: string }> }).servers.map((s) => s.isolation)).toEqual(["in-place", "in-place", "in-place"]);
  });
});
