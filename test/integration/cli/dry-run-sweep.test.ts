import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { Command } from "commander";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { buildProgram } from "../../../src/cli/program.js";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { OFFLINE, OPS_KEY } from "../infra/support.js";

// Every mutation, taken from the command table (each command that declares --dry-run; which
// commands must declare it is test/unit/cli/program.test.ts's business), run with --dry-run
// against a real state that gives it something to plan: two servers, tenants, a custom
// domain, a backup. Each must exit as planned and leave behind exactly what it found: every
// row of every table of the state, every file under $BTW_HOME (the backup storage with it),
// and no connection to a server — the servers are a real sshd behind counting proxies,
// reached with a key it refuses, so a dry run that tried to do something there would be
// counted (and could do nothing). The few dry runs whose plan needs to read a server say why.

interface Case {
  args: string[];
  /** stdin (a secret, a passphrase) */
  input?: string;
  env?: Record<string, string>;
  /** run in a second, fresh $BTW_HOME (state restore fills only a fresh state) */
  fresh?: true;
  /** expected exit code, when not 0 — with the reason */
  code?: { code: number; why: string };
  /** why its plan needs to read a server (connections allowed, changes still not) */
  reads?: string;
  /** what its plan sets up that is neither btw's rows nor the platform: files under a directory of $BTW_HOME, empty tables of a schema of the state database */
  writes?: { under: string; schema: string; why: string };
}

const program = buildProgram("0.0.0", {});
const leaves = (c: Command, path: string[] = []): Array<{ path: string[]; cmd: Command }> =>
  c.commands.flatMap((s) => (s.commands.length ? leaves(s, [...path, s.name()]) : [{ path: [...path, s.name()], cmd: s }]));
const MUTATIONS = leaves(program)
  .filter((l) => l.cmd.options.some((o) => o.long === "--dry-run"))
  .map((l) => l.path.join(" "));

describe("--dry-run of every mutation changes nothing", () => {
  let sshd: TestSshd;
  let proxies: Array<Awaited<ReturnType<typeof countingProxy>>>;
  let pgA: TestDatabase;
  let pgB: TestDatabase;
  let home: BtwHome;
  let fresh: BtwHome;
  let scratch: string;
  let CASES: Record<string, Case>;

  beforeAll(async () => {
    [sshd, pgA, pgB] = await Promise.all([startSshd(), createTestDatabase(), createTestDatabase()]);
    proxies = await Promise.all([countingProxy(sshd.port), countingProxy(sshd.port), countingProxy(sshd.port)]);
    const [p1, p2, p3] = proxies.map((p) => String(p.port)) as [string, string, string];
    scratch = mkdtempSync(join(tmpdir(), "btw-sweep-"));
    home = tempHome({ BTW_DATABASE_URL: pgA.url });
    const ok = async (h: BtwHome, args: string[], input?: string) => {
      const r = await h.run(args, input === undefined ? {} : { input });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    };
    await ok(home, ["init", "--domain", "example.com", "--tls", "off"]);
    // their host key pinned first (adding the monitoring server refreshes its targets: a connection)
    const [type, key] = readFileSync(join(sshd.dir, "host_ed25519.pub"), "utf8").split(" ") as [string, string];
    const fingerprint = await sshd.hostKeyFingerprint();
    for (const port of [p1, p2]) {
      await stateSql(home, `insert into host_keys (host, port, key_type, public_key, fingerprint, source) values ('127.0.0.1', $1, $2, $3, $4, 'approved')`, [Number(port), type, key, fingerprint]);
    }
    // registered without connecting, with a key sshd refuses: a dry run can knock, never enter
    await ok(home, ["server", "add", "s1", "--host", "127.0.0.1", "--port", p1, "--ssh-key", sshd.strangerKey, "--capacity", "20", "--no-verify"]);
    await ok(home, ["server", "add", "s2", "--host", "127.0.0.1", "--port", p2, "--ssh-key", sshd.strangerKey, "--capacity", "20", "--role", "monitoring", "--private-ip", "10.0.1.2", "--no-verify"]);
    // as `server check` would have left them: active, isolated
    await stateSql(home, `update servers set status = 'active', facts = '{"isolation": "in-place"}'`);
    await stateSql(
      home,
      `insert into tenants (slug, plan, server_id, status, subnet, postgres_image)
         select v.slug, 'starter', s.id, v.status, v.subnet::cidr, 'postgres:16.11-bookworm' from servers s,
           (values ('acme', 'active', '10.220.0.0/26'), ('beta', 'suspended', '10.220.0.64/26')) v(slug, status, subnet)
          where s.name = 's1'`,
    );
    await stateSql(home, `insert into tenant_domains (tenant_id, hostname) select id, 'app.customer.com' from tenants where slug = 'acme'`);
    const backupId = "acme-20260101T000000Z-0001";
    await stateSql(home, `insert into backups (id, tenant_slug, tenant_id, location, status, size_bytes, sha256, finished_at) select $1, 'acme', id, $2, 'done', 1, $3, now() from tenants where slug = 'acme'`, [
      backupId,
      join(home.dir, "backups", "acme", `${backupId}.btwb`),
      "0".repeat(64),
    ]);
    // what state restore and key import read
    await ok(home, ["state", "backup"]);
    const recovery = join(scratch, "key.recovery");
    await ok(home, ["key", "export", "--recovery", "--out", recovery], "correct horse battery staple\n");
    // a fresh machine: the key, the same storage, an empty state
    fresh = tempHome({ BTW_DATABASE_URL: pgB.url });
    copyFileSync(join(home.dir, "master.key"), join(fresh.dir, "master.key"));
    if (existsSync(join(home.dir, "keyring"))) cpSync(join(home.dir, "keyring"), join(fresh.dir, "keyring"), { recursive: true });
    const storage = join(scratch, "storage.yml");
    writeFileSync(storage, stringify({ backup: { storage: { type: "dir", path: join(home.dir, "backups") } } }));
    await ok(fresh, ["init", "--domain", "example.com", "--tls", "off", "--merge", storage]);
    // the same state seen through other configurations: behind the edge; with a Hetzner platform
    const config = parse(readFileSync(join(home.dir, "btw.yml"), "utf8")) as Record<string, Record<string, unknown>>;
    const edgeYml = join(scratch, "edge.yml");
    writeFileSync(edgeYml, stringify({ ...config, proxy: { ...config.proxy, mode: "edge" } }));
    const infraYml = join(scratch, "infra.yml");
    writeFileSync(infraYml, stringify({ ...config, hetzner: { servers: 2, adminCidrs: ["203.0.113.7/32"], sshKeys: [{ name: "ops", publicKey: OPS_KEY }] } }));
    const terraformOffline = {
      code: 2,
      why: "a Terraform plan needs the hcloud provider and Hetzner's API; offline it stops at the provider download, before any plan",
    };
    // terraform's pg backend (in the state database) speaks no SSL to the test server
    const infraEnv = { ...OFFLINE, HCLOUD_TOKEN: "hcloud-test-token", BTW_DATABASE_URL: `${pgA.url}?sslmode=disable` };
    // (terraform.pgSchema's default: the pg backend's table, created empty by `terraform init`)
    const terraformDir = { under: "home/infra/", schema: "btw_terraform", why: "what `terraform init` sets up before any plan: its working directory, the pg backend's empty table" };

    CASES = {
      init: { args: ["init"] },
      "db migrate": { args: ["db", "migrate"] },
      "server add": { args: ["server", "add", "s3", "--host", "127.0.0.1", "--port", p3, "--ssh-key", sshd.strangerKey] },
      "server bootstrap": { args: ["server", "bootstrap", "s1"] },
      "server isolate": { args: ["server", "isolate"] },
      "server trust": { args: ["server", "trust", "s1"], reads: "the plan is the host key s1 presents now (ssh-keyscan)" },
      "server remove": { args: ["server", "remove", "s2"] },
      "tenant create": { args: ["tenant", "create", "gamma", "--plan", "starter", "--server", "s1"] },
      "tenant suspend": { args: ["tenant", "suspend", "acme"] },
      "tenant resume": { args: ["tenant", "resume", "beta"] },
      "tenant set-plan": { args: ["tenant", "set-plan", "acme", "pro"] },
      "tenant domain add": { args: ["tenant", "domain", "add", "acme", "www.customer.com", "--skip-dns-check"] },
      "tenant domain remove": { args: ["tenant", "domain", "remove", "acme", "app.customer.com"] },
      "tenant secrets set": { args: ["tenant", "secrets", "set", "acme", "OPENAI_API_KEY"], input: "sk-test-value\n" },
      "tenant secrets rotate": { args: ["tenant", "secrets", "rotate", "acme"] },
      "tenant delete": { args: ["tenant", "delete", "acme", "--purge"] },
      "tenant migrate": { args: ["tenant", "migrate", "acme", "--to", "s2"] },
      "fleet rebalance": { args: ["fleet", "rebalance", "--apply"] },
      "tenant content prune": { args: ["tenant", "content", "prune", "acme"] },
      "workflows deploy": { args: ["workflows", "deploy", "--tenant", "acme"], reads: "the plan is a diff against the workflows the tenant's n8n holds now" },
      "workflows rollback": { args: ["workflows", "rollback", "--tenant", "acme"] },
      "usage collect": { args: ["usage", "collect"] },
      "usage report": { args: ["usage", "report", "--enforce"] },
      "upgrade n8n": { args: ["upgrade", "n8n", "--to", "2.9.0", "--all"] },
      "upgrade postgres": { args: ["upgrade", "postgres", "--all"] },
      "upgrade redis": { args: ["upgrade", "redis", "--to", "7.4.8", "--all"] },
      "backup tenant": { args: ["backup", "tenant", "acme"] },
      "backup all": { args: ["backup", "all"] },
      "backup import": { args: ["backup", "import"] },
      "backup prune": { args: ["backup", "prune"] },
      "backup verify": { args: ["backup", "verify", "--tenant", "acme"] },
      restore: { args: ["restore", "acme"] },
      "state backup": { args: ["state", "backup"] },
      "state restore": { args: ["state", "restore"], fresh: true },
      "key rotate": { args: ["key", "rotate"] },
      "key export": { args: ["key", "export", "--recovery", "--out", join(scratch, "never-written.recovery")], input: "correct horse battery staple\n" },
      "key import": { args: ["key", "import", recovery] },
      "infra apply": { args: ["--config", infraYml, "infra", "apply"], env: infraEnv, code: terraformOffline, writes: terraformDir },
      "infra destroy": { args: ["--config", infraYml, "infra", "destroy"], env: infraEnv, code: terraformOffline, writes: terraformDir },
      "edge sync": { args: ["--config", edgeYml, "edge", "sync"] },
      "monitoring sync": { args: ["monitoring", "sync"] },
      "monitoring deploy": { args: ["monitoring", "deploy"] },
      "schedule install": { args: ["schedule", "install"] },
      "schedule run": { args: ["schedule", "run", "backup-verify"] },
    };
  }, 300_000);

  afterAll(async () => {
    home?.cleanup();
    fresh?.cleanup();
    await Promise.all([...(proxies ?? []).map((p) => p.close()), sshd?.stop(), pgA?.drop(), pgB?.drop()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** both homes: the fresh one's storage is the first one's */
  const homesFiles = () => new Map([...[...files(home.dir)].map(([p, v]): [string, string] => [`home/${p}`, v]), ...[...files(fresh.dir)].map(([p, v]): [string, string] => [`fresh/${p}`, v])]);

  it("there is one case per mutation of the command table, and no case for anything else", () => {
    expect(Object.keys(CASES).sort()).toEqual([...MUTATIONS].sort());
  });

  it("init --dry-run in an empty $BTW_HOME leaves it empty", async () => {
    const empty = tempHome();
    try {
      const r = await empty.run(["init", "--domain", "example.com", "--dry-run", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, changed: false });
      expect(readdirSync(empty.dir)).toEqual([]);
    } finally {
      empty.cleanup();
    }
  });

  it("a dry run refuses what the run would refuse: an unknown tenant, a tenant in the wrong state", async () => {
    await stateSql(home, `insert into tenants (slug, plan, server_id, status, subnet, failed_step, error) select 'delta', 'starter', id, 'failed', '10.220.0.192/26'::cidr, 'ship', 'x' from servers where name = 's1'`);
    try {
      const before = await dumpState(pgA.url);
      for (const [args, message] of [
        [["tenant", "suspend", "nope"], /tenant 'nope' does not exist/],
        [["tenant", "resume", "nope"], /tenant 'nope' does not exist/],
        [["tenant", "set-plan", "nope", "pro"], /tenant 'nope' does not exist/],
        [["backup", "tenant", "nope"], /tenant 'nope' does not exist/],
        [["tenant", "suspend", "delta"], /cannot suspend tenant 'delta': it is failed/],
        [["tenant", "resume", "delta"], /cannot resume tenant 'delta': it is failed/],
      ] as const) {
        const r = await home.run([...args, "--dry-run"]);
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
      }
      expect(await dumpState(pgA.url)).toEqual(before);
    } finally {
      await stateSql(home, `delete from tenants where slug = 'delta'`);
    }
  });

  it.each(MUTATIONS)("%s --dry-run", async (name) => {
    const c = CASES[name];
    expect(c, `no case for \`${name}\`: add one to CASES`).toBeDefined();
    const h = c!.fresh ? fresh : home;
    const url = c!.fresh ? pgB.url : pgA.url;
    const [rowsBefore, filesBefore] = [await dumpState(url), homesFiles()];
    const knocks = connections(proxies);

    const r = await h.run([...c!.args, "--dry-run", "--json"], { ...(c!.input ? { input: c!.input } : {}), ...(c!.env ? { env: c!.env } : {}) });

    expect(r.code, r.stderr).toBe(c!.code?.code ?? 0);
    if (r.code === 0) expect(JSON.parse(r.stdout), r.stdout).toMatchObject({ dryRun: true });
    const schema = c!.writes ? `"${c!.writes.schema}".` : null;
    const rowsAfter = Object.fromEntries(Object.entries(await dumpState(url)).filter(([t, rows]) => !(schema && t.startsWith(schema) && !(t in rowsBefore) && rows.length === 0)));
    expect(rowsAfter).toEqual(rowsBefore);
    const after = homesFiles();
    const under = c!.writes?.under;
    const kept = (m: Map<string, string>) => new Map([...m].filter(([p]) => !under || !p.startsWith(under)));
    expect(kept(after)).toEqual(kept(filesBefore));
    if (!c!.reads) expect(connections(proxies) - knocks, "connections to a server").toBe(0);
  });
});

/** Every row of every table of the state database (every schema: Terraform's backend too), as JSON, in a stable order. */
async function dumpState(url: string): Promise<Record<string, unknown[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (
      await client.query<{ schema: string; name: string }>(
        `select table_schema as schema, table_name as name from information_schema.tables
          where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE' order by 1, 2`,
      )
    ).rows;
    const out: Record<string, unknown[]> = {};
    for (const t of tables) {
      const name = `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`;
      out[name] = (await client.query<{ row: string }>(`select to_jsonb(x)::text as row from ${name} x order by 1`)).rows.map((r) => r.row);
    }
    return out;
  } finally {
    await client.end();
  }
}

/** Every file and directory under dir: its mode and, for a file, its content's hash. */
function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      if (st.isDirectory()) {
        out.set(`${rel}/`, `dir ${st.mode.toString(8)}`);
        walk(p);
      } else if (st.isFile()) out.set(rel, `${st.mode.toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
      else out.set(rel, st.isSymbolicLink() ? "link" : "other");
    }
  };
  walk(dir);
  return out;
}

/** A loopback port forwarding to target that counts the connections made to it. */
async function countingProxy(target: number) {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    count++;
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function connections(ps: Array<{ connections(): number }>): number {
  return ps.reduce((n, p) => n + p.connections(), 0);
}
