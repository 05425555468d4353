import { spawn, spawnSync, execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { shellJoin } from "../src/core/shell.js";
import { median } from "./stats.js";

// `btw backup all` over ≥ 8 tenants on the lab's 2 servers against the seed's approach in the
// same run: a loop of `ssh <server> docker exec <pg> pg_dump` per tenant, one after another,
// to a local file (plain SQL, no n8n data, no encryption, no manifest — less work than btw
// does). Reported: both wall times (median of BENCH_RUNS), bytes, the ratio (goal ≥ 3×), and
// btw's peak RSS — also for one tenant grown to BENCH_BIG_MB, to show memory stays flat.
//
//   npm run bench:backup            BENCH_TENANTS=8 BENCH_MB=16 BENCH_RUNS=3 BENCH_BIG_MB=256
//   BENCH_KEEP=1 keeps the tenants (and the home in $BENCH_HOME) for the next run;
//   BENCH_ARGS="--concurrency 8 --per-server 4" passes flags to `backup all`.

const root = join(import.meta.dirname, "..");
const btw = join(root, "bin", "btw");
const N = Number(process.env.BENCH_TENANTS ?? 8);
const MB = Number(process.env.BENCH_MB ?? 16);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 256);
const KEEP = process.env.BENCH_KEEP === "1";
/** extra `backup all` flags, e.g. "--concurrency 8 --per-server 4" */
const EXTRA = (process.env.BENCH_ARGS ?? "").split(/\s+/).filter(Boolean);

interface Server {
  name: string;
  host: string;
  port: number;
  user: string;
  sshKey: string;
}
interface Lab {
  servers: Server[];
  config: string;
}

console.error("bringing the lab up (npm run lab -- up)…");
execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const lab = JSON.parse(execFileSync("npm", ["run", "--silent", "lab", "--", "up", "--json", "--prepull"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })) as Lab;
if (lab.servers.length < 2) throw new Error("the bench needs 2 lab servers");
const servers = lab.servers.slice(0, 2);

const sshArgs = (s: Server) => ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", s.sshKey, "-p", String(s.port), `${s.user}@${s.host}`];
const ssh = (s: Server, argv: string[]) => {
  const r = spawnSync("ssh", [...sshArgs(s), shellJoin(argv)], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${argv.slice(0, 4).join(" ")} failed on ${s.name}: ${r.stderr}`);
  return r.stdout;
};

const home = process.env.BENCH_HOME ?? mkdtempSync(join(tmpdir(), "btw-bench-backup-"));
const env = { ...process.env, BTW_HOME: home, NO_COLOR: "1" };
const run = (args: string[], allow: number[] = [0]) => {
  const r = spawnSync(process.execPath, [btw, ...args], { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (!allow.includes(r.status ?? -1)) throw new Error(`btw ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r;
};

/** Runs btw and samples its RSS from /proc every 50 ms. */
function runMeasured(args: string[]): Promise<{ ms: number; peakRssMb: number; stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [btw, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    let peak = 0;
    const timer = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        /* exited */
      }
    }, 50);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`btw ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`));
      resolve({ ms: performance.now() - t0, peakRssMb: peak, stdout, code: code ?? -1 });
    });
  });
}

const tenants = Array.from({ length: N }, (_, i) => ({ slug: `bb-${i + 1}`, server: servers[i % 2]! }));

/** The seed's way: one fresh `ssh` per tenant, pg_dump to a local file, one after another. */
async function serialBaseline(dir: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  let bytes = 0;
  for (const t of tenants) {
    const file = join(dir, `${t.slug}.sql`);
    const out = createWriteStream(file);
    const child = spawn("ssh", [...sshArgs(t.server), shellJoin(["docker", "exec", `btw-${t.slug}-postgres`, "pg_dump", "-U", "n8n", "-d", "n8n"])], { stdio: ["ignore", "pipe", "inherit"] });
    const written = new Promise<void>((resolve, reject) => out.on("close", () => resolve()).on("error", reject));
    child.stdout.pipe(out);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    await written;
    if (code !== 0) throw new Error(`pg_dump of ${t.slug} exited ${code}`);
    bytes += statSync(file).size;
  }
  return { ms: performance.now() - t0, bytes };
}

function pad(t: { slug: string; server: Server }, mb: number): void {
  // md5 text: compresses about 2:1, like execution data; ~32 bytes per md5
  const rows = Math.ceil((mb * 1024 * 1024) / (32 * 64));
  ssh(t.server, [
    "docker", "exec", `btw-${t.slug}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-q", "-v", "ON_ERROR_STOP=1", "-c",
    `drop table if exists bench_pad; create table bench_pad as select i, string_agg(md5(random()::text || i || j), '') as t from generate_series(1, ${rows}) i, generate_series(1, 64) j group by i`,
  ]);
}

const results = { serial: [] as Array<{ ms: number; bytes: number }>, btw: [] as Array<{ ms: number; bytes: number; peakRssMb: number; ok: number }> };
try {
  if (!process.env.BENCH_HOME || !statSafe(join(home, "btw.yml"))) {
    run(["init", "--domain", "lab.btw.test", "--tls", "off", "--merge", lab.config]);
    for (const s of servers) run(["server", "add", s.name, "--host", s.host, "--port", String(s.port), "--user", s.user, "--ssh-key", s.sshKey, "--capacity", "12"]);
  }
  const existing = new Set((JSON.parse(run(["tenant", "list", "--json"]).stdout) as { tenants: Array<{ slug: string; status: string }> }).tenants.filter((t) => t.status === "active").map((t) => t.slug));
  const missing = tenants.filter((t) => !existing.has(t.slug));
  // one at a time: the embedded state store takes one btw process at a time
  console.error(`creating ${missing.length} tenant(s)…`);
  for (const [i, t] of missing.entries()) {
    run(["tenant", "create", t.slug, "--plan", "starter", "--server", t.server.name]);
    console.error(`  ${i + 1}/${missing.length} ${t.slug} on ${t.server.name}`);
  }
  console.error(`seeding ${MB} MB per tenant…`);
  for (const t of tenants) pad(t, MB);

  const dir = mkdtempSync(join(tmpdir(), "btw-bench-serial-"));
  for (let r = 0; r < RUNS; r++) {
    // alternate the order so neither side always runs on a warmer machine
    const order = r % 2 === 0 ? ["serial", "btw"] : ["btw", "serial"];
    for (const which of order) {
      if (which === "serial") {
        const s = await serialBaseline(dir);
        results.serial.push(s);
        console.error(`run ${r + 1}: serial ssh+pg_dump loop ${(s.ms / 1000).toFixed(1)} s, ${(s.bytes / 1e6).toFixed(1)} MB`);
      } else {
        const m = await runMeasured(["backup", "all", "--json", ...EXTRA]);
        const report = JSON.parse(m.stdout) as { bytes: number; succeeded: number; total: number };
        results.btw.push({ ms: m.ms, bytes: report.bytes, peakRssMb: m.peakRssMb, ok: report.succeeded });
        console.error(`run ${r + 1}: btw backup all ${(m.ms / 1000).toFixed(1)} s, ${(report.bytes / 1e6).toFixed(1)} MB, ${report.succeeded}/${report.total} ok, peak RSS ${m.peakRssMb.toFixed(0)} MB`);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });

  let flat: { smallRssMb: number; bigRssMb: number; bigMb: number; bigBytes: number; bigSeconds: number } | null = null;
  if (BIG_MB > 0) {
    const t = tenants[0]!;
    const small = await runMeasured(["backup", "tenant", t.slug, "--json"]);
    console.error(`growing ${t.slug} to ~${BIG_MB} MB…`);
    pad(t, BIG_MB);
    const big = await runMeasured(["backup", "tenant", t.slug, "--json"]);
    const b = JSON.parse(big.stdout) as { backup: { sizeBytes: number; seconds: number } };
    flat = { smallRssMb: small.peakRssMb, bigRssMb: big.peakRssMb, bigMb: BIG_MB, bigBytes: b.backup.sizeBytes, bigSeconds: b.backup.seconds };
    pad(t, MB);
  }

  const serialMs = median(results.serial.map((s) => s.ms));
  const btwMs = median(results.btw.map((s) => s.ms));
  const summary = {
    tenants: N,
    servers: servers.length,
    mbPerTenant: MB,
    runs: RUNS,
    serial: { medianSeconds: serialMs / 1000, bytes: results.serial[0]?.bytes, what: "ssh <server> docker exec <pg> pg_dump (plain SQL) per tenant, one after another" },
    btw: {
      medianSeconds: btwMs / 1000,
      bytes: results.btw[0]?.bytes,
      peakRssMb: Math.max(...results.btw.map((b) => b.peakRssMb)),
      concurrency: EXTRA.length ? EXTRA.join(" ") : "backup.concurrency defaults (total 4, per server 2)",
      what: "pg_dump -Fc + n8n data tar + manifest, AES-256-GCM, to a local directory",
    },
    ratio: serialMs / btwMs,
    memory: flat,
  };
  console.log(JSON.stringify(summary, null, 2));
  console.error(
    `\nbackup all over ${N} tenants on ${servers.length} servers: btw ${(btwMs / 1000).toFixed(1)} s vs serial loop ${(serialMs / 1000).toFixed(1)} s → ${summary.ratio.toFixed(2)}× (goal ≥ 3×)` +
      (flat ? `\nmemory: peak RSS ${flat.smallRssMb.toFixed(0)} MB for a ${MB} MB tenant, ${flat.bigRssMb.toFixed(0)} MB for a ${flat.bigMb} MB one (${(flat.bigBytes / 1e6).toFixed(0)} MB backup in ${flat.bigSeconds.toFixed(1)} s)` : ""),
  );
} finally {
  if (!KEEP) {
    console.error("removing the bench tenants…");
    for (const t of tenants) run(["tenant", "delete", t.slug, "--purge", "--no-final-backup", "--yes"], [0, 1, 2]);
    rmSync(home, { recursive: true, force: true });
  } else {
    console.error(`kept: BENCH_HOME=${home}`);
  }
}

function statSafe(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
