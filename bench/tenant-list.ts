import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { openDb, type Db } from "../src/state/db.js";
import { storeLayout } from "../src/state/embedded/layout.js";
import { readServerStatus, stopServer } from "../src/state/embedded/server.js";
import { migrate } from "../src/state/migrate.js";
import { openPgliteDb } from "../src/state/pglite-db.js";
import { startPostgres } from "../test/support/postgres.js";
import { median, ms } from "./stats.js";

// `btw tenant list --json` with 0 and 1,000 tenants, on the embedded default (its PostgreSQL
// server already running, and once cold) and on a PostgreSQL server, against `node -e 0` and
// `btw --version`, all in one run, with each child's peak RSS (/usr/bin/time -f %M).
// Goal (issue 12): ≤ 4× `node -e 0` with no tenants, ≤ 300 ms with 1,000, on both.

const root = join(import.meta.dirname, "..");
const btw = join(root, "bin", "btw");
const runs = Number(process.env.BENCH_RUNS ?? 10);
const TIME = "/usr/bin/time";
const hasTime = existsSync(TIME);

async function seed(db: Db, tenants: number) {
  await migrate(db);
  if (tenants === 0) return;
  await db.query(`insert into servers (name, host, capacity, status) select 'srv-' || i, '192.0.2.' || i, 100000, 'active' from generate_series(1, 20) i`);
  await db.query(
    `insert into tenants (slug, plan, weight, server_id, subnet, timezone, status)
     select 'tenant-' || lpad(i::text, 4, '0'), 'pro', 2, (i % 20) + 1, ('10.220.' || (i / 4) || '.' || ((i % 4) * 64) || '/26')::cidr, 'Europe/Paris', 'active'
       from generate_series(0, $1 - 1) i`,
    [tenants],
  );
}

interface Sample {
  ms: number;
  rssKb: number;
}

function time(args: string[], env: NodeJS.ProcessEnv, expectTenants?: number): Sample {
  const argv = hasTime ? [TIME, "-f", "%M", process.execPath, ...args] : [process.execPath, ...args];
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  const dt = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  if (expectTenants !== undefined && (JSON.parse(r.stdout.toString()) as { tenants: unknown[] }).tenants.length !== expectTenants) {
    throw new Error("wrong tenant count");
  }
  const lines = r.stderr.toString().trim().split("\n");
  return { ms: dt, rssKb: hasTime ? Number(lines[lines.length - 1]) : NaN };
}

/** RSS of the embedded server: the postmaster and its children. */
function serverRssKb(dataDir: string): number {
  const pid = readServerStatus(storeLayout(dataDir)).pid;
  if (!pid) return NaN;
  const r = spawnSync("ps", ["-o", "rss=", "-p", String(pid), "--ppid", String(pid)], { encoding: "utf8" });
  return r.stdout.split("\n").reduce((a, l) => a + (Number(l.trim()) || 0), 0);
}

const server = await startPostgres();
const homes: Record<string, string> = {};
try {
  const admin = new pg.Client({ connectionString: `${server.url}/postgres` });
  await admin.connect();
  const urls: Record<string, string> = {};
  for (const n of [0, 1000]) {
    await admin.query(`create database bench_${n}`);
    urls[`pg${n}`] = `${server.url}/bench_${n}`;
  }
  await admin.end();
  for (const kind of ["pg0", "pg1000", "emb0", "emb1000"]) {
    const home = (homes[kind] = mkdtempSync(join(tmpdir(), "btw-bench-")));
    writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
    const db = await openDb(kind.startsWith("pg") ? { url: urls[kind]!, dataDir: "unused" } : { dataDir: join(home, "state") });
    await seed(db, kind.endsWith("1000") ? 1000 : 0);
    await db.close();
  }
  const env = (kind: string) => ({
    ...process.env,
    BTW_HOME: homes[kind],
    NO_COLOR: "1",
    ...(kind.startsWith("pg") ? { BTW_DATABASE_URL: urls[kind] } : {}),
  });
  const list = [btw, "tenant", "list", "--json"];
  const cases: Record<string, () => Sample> = {
    "node -e 0": () => time(["-e", "0"], process.env),
    "btw --version": () => time([btw, "--version"], process.env),
    "tenant list, 0 tenants, embedded": () => time(list, env("emb0"), 0),
    "tenant list, 0 tenants, pg": () => time(list, env("pg0"), 0),
    "tenant list, 1000 tenants, embedded": () => time(list, env("emb1000"), 1000),
    "tenant list, 1000 tenants, pg": () => time(list, env("pg1000"), 1000),
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < runs + 1; i++) for (const [k, f] of Object.entries(cases)) { const s = f(); if (i > 0) samples[k]!.push(s); }

  // The former default for comparison: PGlite opened in-process (the open and one query, no CLI around it).
  const pgliteDir = join(homes.emb0!, "pglite");
  const lite = await openPgliteDb({ dataDir: pgliteDir, lockTimeoutMs: 0 });
  await migrate(lite);
  await lite.close();
  const liteScript = `const { openPgliteDb } = await import(${JSON.stringify(join(root, "dist/src/state/pglite-db.js"))});
    const db = await openPgliteDb({ dataDir: ${JSON.stringify(pgliteDir)}, lockTimeoutMs: 0 });
    await db.query("select * from tenants"); await db.close();`;
  const former: Sample[] = [];
  for (let i = 0; i < 3; i++) former.push(time(["--input-type=module", "-e", liteScript], process.env));

  // Cold: the first command after `db stop` starts the server (what the first command of the day pays).
  const cold: Sample[] = [];
  for (let i = 0; i < 3; i++) {
    await stopServer(storeLayout(join(homes.emb0!, "state")));
    cold.push(time(list, env("emb0"), 0));
  }

  const med = (xs: Sample[]) => ({ ms: median(xs.map((s) => s.ms)), rssKb: median(xs.map((s) => s.rssKb)) });
  const base = med(samples["node -e 0"]!).ms;
  const row = (k: string, s: { ms: number; rssKb: number }) =>
    `  ${k.padEnd(40)} ${ms(s.ms).padStart(10)}   ${(s.ms / base).toFixed(2).padStart(5)}× node -e 0   peak RSS ${(s.rssKb / 1024).toFixed(0).padStart(4)} MB`;
  console.log(`tenant list --json, median of ${runs} runs (interleaved); embedded server already running unless "cold":`);
  for (const k of Object.keys(cases)) console.log(row(k, med(samples[k]!)));
  console.log(row("tenant list, 0 tenants, embedded, cold", med(cold)));
  console.log(row("former default: PGlite open + 1 query", med(former)));
  console.log(`  embedded server (postmaster + children) RSS: ${(serverRssKb(join(homes.emb1000!, "state")) / 1024).toFixed(0)} MB`);
  const goal = (k: string, limit: number) => {
    const m = med(samples[k]!).ms;
    return `${k}: ${ms(m)} ${m <= limit ? "≤" : ">"} ${ms(limit)} — ${m <= limit ? "met" : "NOT met"}`;
  };
  console.log("goals:");
  for (const k of ["tenant list, 0 tenants, embedded", "tenant list, 0 tenants, pg"]) console.log(`  ${goal(k, 4 * base)} (4× node -e 0)`);
  for (const k of ["tenant list, 1000 tenants, embedded", "tenant list, 1000 tenants, pg"]) console.log(`  ${goal(k, 300)}`);
} finally {
  for (const [kind, h] of Object.entries(homes)) {
    if (kind.startsWith("emb")) await stopServer(storeLayout(join(h, "state"))).catch(() => {});
    rmSync(h, { recursive: true, force: true });
  }
  await server.stop();
}
