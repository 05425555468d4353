import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openDb } from "../src/state/db.js";
import { migrate } from "../src/state/migrate.js";
import { startPostgres } from "../test/support/postgres.js";
import { median, ms } from "./stats.js";

// `btw tenant list --json` with 1,000 tenants in the state, on a PostgreSQL server and on the
// embedded store, against `node -e 0` and `btw --version` measured in the same run.
// Goal (issue 4): ≤ 300 ms.

const root = join(import.meta.dirname, "..");
const btw = join(root, "bin", "btw");
const runs = Number(process.env.BENCH_RUNS ?? 10);
const TENANTS = 1000;

async function seed(db: Awaited<ReturnType<typeof openDb>>) {
  await migrate(db);
  await db.query(`insert into servers (name, host, capacity, status) select 'srv-' || i, '192.0.2.' || i, 100000, 'active' from generate_series(1, 20) i`);
  await db.query(
    `insert into tenants (slug, plan, weight, server_id, subnet, timezone, status)
     select 'tenant-' || lpad(i::text, 4, '0'), 'pro', 2, (i % 20) + 1, ('10.220.' || (i / 4) || '.' || ((i % 4) * 64) || '/26')::cidr, 'Europe/Paris', 'active'
       from generate_series(0, $1 - 1) i`,
    [TENANTS],
  );
}

function time(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  const dt = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  if (args.includes("list") && (JSON.parse(r.stdout.toString()) as { tenants: unknown[] }).tenants.length !== TENANTS) throw new Error("wrong tenant count");
  return dt;
}

const pg = await startPostgres();
const homes = { pg: mkdtempSync(join(tmpdir(), "btw-bench-")), pglite: mkdtempSync(join(tmpdir(), "btw-bench-")) };
try {
  const url = `${pg.url}/postgres`;
  for (const [kind, home] of Object.entries(homes)) {
    writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
    const db = await openDb(kind === "pg" ? { url, dataDir: "unused" } : { dataDir: join(home, "state") });
    await seed(db);
    await db.close();
  }
  const env = (kind: "pg" | "pglite") => ({ ...process.env, BTW_HOME: homes[kind], NO_COLOR: "1", ...(kind === "pg" ? { BTW_DATABASE_URL: url } : {}) });
  const cases: Record<string, () => number> = {
    "node -e 0": () => time(["-e", "0"], process.env),
    "btw --version": () => time([btw, "--version"], process.env),
    "tenant list --json (pg)": () => time([btw, "tenant", "list", "--json"], env("pg")),
    "tenant list --json (embedded)": () => time([btw, "tenant", "list", "--json"], env("pglite")),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < runs + 1; i++) for (const [k, f] of Object.entries(cases)) { const t = f(); if (i > 0) times[k]!.push(t); }
  const base = median(times["node -e 0"]!);
  console.log(`tenant list with ${TENANTS} tenants, median of ${runs} runs (interleaved):`);
  for (const k of Object.keys(cases)) console.log(`  ${k.padEnd(30)} ${ms(median(times[k]!)).padStart(10)}   ${(median(times[k]!) / base).toFixed(2)}× node -e 0`);
  const pgMs = median(times["tenant list --json (pg)"]!);
  console.log(`goal ≤ 300 ms on PostgreSQL: ${pgMs <= 300 ? "met" : "NOT met"} (${ms(pgMs)}); the embedded store pays PGlite's start-up (${ms(median(times["tenant list --json (embedded)"]!))})`);
} finally {
  await pg.stop();
  for (const h of Object.values(homes)) rmSync(h, { recursive: true, force: true });
}
