import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parse, stringify } from "yaml";
import { composeStop, composeUp } from "../src/core/commands/compose.js";
import { shellJoin } from "../src/core/shell.js";
import { labConfig } from "../test/lab/config.js";
import { labImages, type LabInfo, type LabServer } from "../test/lab/lab.js";
import { median, percentile } from "./stats.js";

// The long operations of issue 21 on the lab, each against its floor measured in the same run:
//
//   restore <t> --yes             in place, from the `backup tenant` taken just before
//   tenant migrate <t> --to <s>   wall time, and the unavailable window from its --json report
//   upgrade n8n --to <current>    one tenant, created on the lab's older n8n
//
// for a small tenant (fresh, plan pro) and one with ~BENCH_BIG_MB of data, BENCH_RUNS times
// each. Floor: a bare `docker compose stop` + `up -d --wait` of the tenant's own stack (every
// one of the three ends by starting that stack and waiting for n8n's health); baseline: a
// `backup tenant` of the same tenant (restore and migrate each take one or two). Figures only.
//
//   npm run bench:ops     BENCH_RUNS=3 BENCH_BIG_MB=200 BENCH_LAB_SERVERS=2
//
// BENCH_LAB_SERVERS=N brings up lab-1…lab-N and uses the last two: a btw state renders a
// server's whole proxy config, so next to an e2e run (lanes on lab-1/2, lab-3/4) pick e.g. 6.
// Disk: every backup lands in the temporary BTW_HOME, ~1–2 GB over a default run.

const root = join(import.meta.dirname, "..");
const btw = join(root, "bin", "btw");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 200);
const LAB_SERVERS = Number(process.env.BENCH_LAB_SERVERS ?? 2);
/** a pool of its own: other btw states on the same VMs allocate from the bottom of theirs */
const SUBNET_POOL = "10.250.0.0/16";
/** what each fake execution carries: ~100 KB keeps 200 MB under n8n's 10 000-execution pruning */
const EXECUTION_KB = 100;

type Size = "small" | "big";
type Op = "floor" | "backup" | "restore" | "migrate" | "unavailable" | "upgrade";
const samples: Record<Size, Record<Op, number[]>> = {
  small: { floor: [], backup: [], restore: [], migrate: [], unavailable: [], upgrade: [] },
  big: { floor: [], backup: [], restore: [], migrate: [], unavailable: [], upgrade: [] },
};
/** how the big tenants got their data, and how big each database then was */
const padHow = new Set<string>();
const padSizes: string[] = [];
let upgradePath = "";

// ---- the lab ---------------------------------------------------------------------------

console.error("building btw, bringing the lab up (npm run lab -- up)…");
execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const lab = JSON.parse(
  execFileSync("npm", ["run", "--silent", "lab", "--", "up", "--servers", String(LAB_SERVERS), "--json", "--prepull"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
) as LabInfo;
if (lab.servers.length < 2) throw new Error("the bench needs 2 lab servers (BENCH_LAB_SERVERS ≥ 2)");
const [vmA, vmB] = lab.servers.slice(-2) as [LabServer, LabServer];
const oldImage = lab.n8nPrevious.image;
const currentVersion = lab.images.n8n.slice(lab.images.n8n.lastIndexOf(":") + 1);
// `up` leaves the older n8n out: built on first use, and pulled now so no timed create pays for it
console.error(`older n8n ${lab.n8nPrevious.version} into ${vmA.name}, ${vmB.name} (built on first use)…`);
await labImages(labConfig(), ["n8nPrevious"], { pullInto: [vmA, vmB] });

function ssh(s: LabServer, argv: string[]): string {
  const r = spawnSync("ssh", ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", s.sshKey, "-p", String(s.port), `${s.user}@${s.host}`, shellJoin(argv)], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${argv.slice(0, 4).join(" ")} failed on ${s.name}: ${r.stderr}`);
  return r.stdout;
}

// ---- btw in a home of its own ------------------------------------------------------------

const home = mkdtempSync(join(tmpdir(), "btw-bench-ops-"));
const env = { ...process.env, BTW_HOME: home, NO_COLOR: "1" };
const configFile = join(home, "btw.yml");

function run(args: string[]): string {
  const r = spawnSync(process.execPath, [btw, ...args], { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`btw ${args.join(" ")} exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
  return r.stdout;
}

/** Wall seconds of fn, which throws if the command failed: a failed op is no figure. */
function timed<T>(fn: () => T): { seconds: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

function editConfig(change: (c: Record<string, Record<string, unknown>>) => void): void {
  const c = parse(readFileSync(configFile, "utf8")) as Record<string, Record<string, unknown>>;
  change(c);
  writeFileSync(configFile, stringify(c));
}

function setUpHome(): void {
  run(["init", "--domain", "lab.btw.test", "--tls", "off", "--timezone", "Europe/Paris", "--merge", lab.config]);
  editConfig((c) => (c.placement = { ...c.placement, subnetPool: SUBNET_POOL }));
  for (const s of [vmA, vmB]) run(["server", "add", s.name, "--host", s.host, "--port", String(s.port), "--user", s.user, "--ssh-key", s.sshKey, "--capacity", "12"]);
}

// ---- tenants -----------------------------------------------------------------------------

/** Everything created, until deleted: the finally removes what is left. */
const created = new Set<string>();
/** where each tenant is now (migrate moves them) */
const placed = new Map<string, LabServer>();

/**
 * Versions are state: a tenant runs `images.n8n` as btw.yml had it at create. For an old
 * tenant, btw.yml names the older n8n during the create only (as upgrade.test.ts does), so
 * `upgrade n8n --to <version>` afterwards resolves against the current image's repository.
 */
function createTenant(slug: string, server: LabServer, image?: string): void {
  const original = readFileSync(configFile, "utf8");
  if (image) editConfig((c) => (c.images = { ...c.images, n8n: image }));
  try {
    created.add(slug);
    run(["tenant", "create", slug, "--plan", "pro", "--server", server.name]);
    placed.set(slug, server);
  } finally {
    writeFileSync(configFile, original);
  }
}

const psql = (slug: string, sql: string) => ["docker", "exec", `btw-${slug}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql];

/**
 * ~mb of finished executions, as n8n stores them: execution_entity rows (on the first of the
 * workflows tenant create deploys) with their execution_data — the run data in n8n's flatted
 * form, one node's output carrying md5 text (about 2:1 compressible, like real JSON payloads).
 * n8n's own schema differs between versions: if the insert fails (or there is no workflow),
 * a pad table of the same size in n8n's database instead. Notes which, for the output.
 */
function pad(slug: string, mb: number): void {
  const server = placed.get(slug)!;
  const rows = Math.ceil((mb * 1024) / EXECUTION_KB);
  const md5sPerRow = Math.ceil((EXECUTION_KB * 1024) / 32);
  const runData = `[{"version":1,"startData":"1","resultData":"2"},{},{"runData":"3","lastNodeExecuted":"4"},{"Pad":"5"},"Pad",["6"],{"startTime":0,"executionTime":1,"data":"7"},{"main":"8"},["9"],["10"],{"json":"11"},{"blob":"12"},"`;
  const executions = `
    with w as (select id, name, nodes, connections, settings from workflow_entity limit 1),
    e as (
      insert into execution_entity (finished, mode, status, "workflowId", "startedAt", "stoppedAt")
      select true, 'trigger', 'success', w.id, now() - make_interval(secs => g), now() - make_interval(secs => g) + interval '2 seconds'
      from w, generate_series(1, ${rows}) g returning id),
    d as (
      insert into execution_data ("executionId", "workflowData", data)
      select e.id,
        (select json_build_object('id', id, 'name', name, 'active', false, 'nodes', nodes, 'connections', connections, 'settings', settings) from w),
        '${runData}' || (select string_agg(md5(random()::text || e.id || j), '') from generate_series(1, ${md5sPerRow}) j) || '"]'
      from e returning 1)
    select count(*) from d`;
  let how: string;
  try {
    const n = Number(ssh(server, psql(slug, executions)).trim());
    if (n < rows) throw new Error(`${n} of ${rows} executions inserted (no workflow?)`);
    how = `${rows} finished executions (execution_entity + execution_data, ${EXECUTION_KB} KB each)`;
  } catch (e) {
    console.error(`  executions could not be inserted (${String(e).split("\n")[0]}); a pad table instead`);
    const padRows = Math.ceil((mb * 1024 * 1024) / (32 * 64));
    ssh(server, psql(slug, `drop table if exists bench_pad; create table bench_pad as select i, string_agg(md5(random()::text || i || j), '') as t from generate_series(1, ${padRows}) i, generate_series(1, 64) j group by i`));
    how = "a pad table (bench_pad, md5 text) in n8n's database";
  }
  padHow.add(how);
  padSizes.push(ssh(server, psql(slug, "select pg_size_pretty(pg_database_size(current_database()))")).trim());
}

/** The floor: the tenant's own stack stopped and brought up again, waiting for health. */
function floorRestart(slug: string): number {
  const server = placed.get(slug)!;
  ssh(server, composeStop(slug));
  return timed(() => ssh(server, composeUp(slug, { profiles: [], wait: 300 }))).seconds; // pro: no queue profile
}

/** Whatever is left of a tenant on a server: containers, volumes, networks, files (by label). */
function scrub(slug: string): void {
  const script = [
    'docker ps -aq --filter "label=btw.tenant=$1" | xargs -r docker rm -f',
    'docker volume ls -q --filter "label=btw.tenant=$1" | xargs -r docker volume rm',
    'docker network ls -q --filter "label=btw.tenant=$1" | xargs -r docker network rm',
    'rm -rf "/opt/btw/tenants/$1"',
  ].join("; ");
  for (const s of [vmA, vmB]) {
    try {
      ssh(s, ["sh", "-c", script, "sh", slug]);
    } catch (e) {
      console.error(`  ${slug} on ${s.name}: ${String(e).split("\n")[0]}`);
    }
  }
}

/**
 * delete --purge (it also removes a migration's kept source); if btw refuses (a tenant left
 * half-migrated or mid-upgrade by a failure), roll the migration back and try again; as a last
 * resort remove its containers, volumes and files on both servers — the state goes with home.
 */
function removeTenant(slug: string): void {
  const del = () => run(["tenant", "delete", slug, "--purge", "--no-final-backup", "--yes"]);
  try {
    del();
  } catch {
    try {
      run(["tenant", "migrate", slug, "--rollback", "--yes"]);
    } catch {
      /* not a migration */
    }
    try {
      del();
    } catch (e) {
      console.error(`  ${slug}: delete failed (${String(e).split("\n")[0]}); scrubbing it off the servers`);
      scrub(slug);
    }
  }
  created.delete(slug);
}

// ---- one run -----------------------------------------------------------------------------

const other = (s: LabServer) => (s.name === vmA.name ? vmB : vmA);

/** floor, backup, restore and migrate of one standing tenant. */
function measureStanding(size: Size, slug: string): void {
  const m = samples[size];
  m.floor.push(floorRestart(slug));
  m.backup.push(timed(() => run(["backup", "tenant", slug])).seconds);
  m.restore.push(timed(() => run(["restore", slug, "--yes"])).seconds); // from that backup
  // each run moves it to the other server: no untimed move back, the same work either way
  const to = other(placed.get(slug)!);
  const mig = timed(() => JSON.parse(run(["tenant", "migrate", slug, "--to", to.name, "--json"])) as { migration: { unavailable: { seconds: number } | null } });
  placed.set(slug, to);
  m.migrate.push(mig.seconds);
  if (mig.value.migration.unavailable) m.unavailable.push(mig.value.migration.unavailable.seconds);
  // the next migration is refused while this one keeps its source stack
  run(["tenant", "migrate", slug, "--cleanup", "--yes"]);
  console.error(`  ${size}: floor ${last(m.floor)} s, backup ${last(m.backup)} s, restore ${last(m.restore)} s, migrate ${last(m.migrate)} s (unavailable ${last(m.unavailable)} s)`);
}

/** A fresh tenant on the older n8n (padded for big), upgraded to the current one, removed. */
function measureUpgrade(size: Size, slug: string): void {
  createTenant(slug, vmA, oldImage);
  if (size === "big") pad(slug, BIG_MB);
  const up = timed(() => JSON.parse(run(["upgrade", "n8n", "--to", currentVersion, "--tenant", slug, "--json"])) as { results: Array<{ outcome: string; from: string; to: string }> });
  const r = up.value.results[0];
  // an "unchanged" tenant was never on the old version: its figure would mean nothing
  if (r?.outcome !== "upgraded") throw new Error(`upgrade of ${slug}: ${r?.outcome ?? "no result"}, expected upgraded (from ${r?.from})`);
  upgradePath = `${r.from.slice(r.from.lastIndexOf(":") + 1)} → ${r.to.slice(r.to.lastIndexOf(":") + 1)}`;
  samples[size].upgrade.push(up.seconds);
  console.error(`  ${size}: upgrade n8n ${upgradePath} ${last(samples[size].upgrade)} s`);
  removeTenant(slug);
}

const last = (xs: number[]) => (xs.length ? xs[xs.length - 1]!.toFixed(1) : "?");

// ---- the figures -------------------------------------------------------------------------

function report(incomplete: boolean): void {
  const col = (x: string) => x.padStart(7);
  const f = (n: number) => col(Number.isFinite(n) ? n.toFixed(1) : "–");
  const rows: Array<[Op, string]> = [
    ["floor", "floor: compose stop + up -d --wait"],
    ["backup", "backup tenant"],
    ["restore", "restore --yes (in place, + safety bkp)"],
    ["migrate", "tenant migrate --to (wall)"],
    ["unavailable", "  of which unavailable (--json)"],
    ["upgrade", `upgrade n8n ${upgradePath || "(old → current)"}`],
  ];
  console.log(`btw operations on ${vmA.name} ↔ ${vmB.name}, plan pro, ${RUNS} run(s)${incomplete ? " — INCOMPLETE: the bench failed, figures so far" : ""}`);
  console.log(`big tenants: ~${BIG_MB} MB as ${[...padHow].join(" / ") || "?"}; n8n database ${padSizes.join(", ") || "?"}`);
  console.log("seconds; ×floor = median / the same size's median floor (for upgrade: the standing tenant's floor)");
  for (const size of ["small", "big"] as const) {
    const m = samples[size];
    const floor = median(m.floor);
    const title = size === "small" ? "small (fresh)" : `~${BIG_MB} MB`;
    console.log(`\n${title.padEnd(42)}${["min", "median", "p95", "max", "×floor"].map(col).join(" ")} ${"n".padStart(3)}`);
    for (const [op, label] of rows) {
      const xs = m[op];
      const ratio = xs.length && floor > 0 ? `${(median(xs) / floor).toFixed(2)}×` : "–";
      const stats = xs.length ? [Math.min(...xs), median(xs), percentile(xs, 95), Math.max(...xs)] : [NaN, NaN, NaN, NaN];
      console.log(`  ${label.padEnd(40)}${[...stats.map(f), col(ratio)].join(" ")} ${String(xs.length).padStart(3)}`);
    }
  }
}

// ---- main --------------------------------------------------------------------------------

const SMALL = "bo-small";
const BIG = "bo-big";
const upgradeSlugs = (i: number) => [`bo-up-s${i + 1}`, `bo-up-b${i + 1}`] as const;
// Ctrl-C: the running btw child gets it too and fails; the finally below then cleans up
// instead of the bench dying with tenants left on the servers (a second Ctrl-C exits at once).
// SIGTERM (`timeout`, CI's cancel) the same: the bench's tenants are removed before it ends.
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    interrupted = true;
    console.error(`${sig}: cleaning up after the current command…`);
  });
}
/** Between two measurements: a signal ends the runs here (the btw child of a SIGTERM ran on). */
const stopIfInterrupted = () => {
  if (interrupted) throw new Error("interrupted");
};
let failure: unknown = null;
try {
  // names are fixed: a killed earlier run (its home gone) would make btw refuse them as not its own
  for (const slug of [SMALL, BIG, ...Array.from({ length: RUNS }, (_, i) => upgradeSlugs(i)).flat()]) scrub(slug);
  setUpHome();
  console.error(`creating ${SMALL} and ${BIG} (pro) on ${vmA.name}, ~${BIG_MB} MB into ${BIG}…`);
  createTenant(SMALL, vmA);
  createTenant(BIG, vmA);
  pad(BIG, BIG_MB);
  for (let i = 0; i < RUNS; i++) {
    console.error(`run ${i + 1}/${RUNS}`);
    const [small, big] = upgradeSlugs(i);
    for (const measure of [() => measureStanding("small", SMALL), () => measureStanding("big", BIG), () => measureUpgrade("small", small), () => measureUpgrade("big", big)]) {
      stopIfInterrupted();
      measure();
    }
  }
} catch (e) {
  failure = e;
} finally {
  console.error("removing the bench tenants…");
  for (const slug of [...created]) removeTenant(slug);
  try {
    run(["db", "stop"]); // the embedded state server would keep running on a deleted directory
  } catch (e) {
    console.error(`  db stop: ${String(e).split("\n")[0]}`);
  }
  rmSync(home, { recursive: true, force: true });
}
report(failure !== null);
if (failure !== null) throw failure;
