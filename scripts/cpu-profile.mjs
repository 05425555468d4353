// Where the machine's CPU goes during `npm test` (issue 21: the suite is bound by this machine's
// 2 cores, so its time is cut by cutting CPU, not by adding lanes). Started by scripts/test.sh
// beside the full run and stopped with SIGTERM at its end: samples every 5 s the CPU each
// Docker container of this machine has used (cgroup accounting; the lab's servers are
// containers, and the tenants' containers inside them are cgroups of their own), names the
// tenants' containers by asking each lab server's engine, then writes test-results/cpu.json
// and prints one line per part. Read-only; where there is no cgroup accounting it says so.
// usage: node scripts/cpu-profile.mjs   (until SIGTERM)
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);
const INTERVAL_MS = 5000;

// cgroup v1 (cpuacct, nanoseconds) or v2 (cpu.stat usage_usec)
const layouts = [
  { dir: "/sys/fs/cgroup/cpuacct/docker", read: (id) => Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, "utf8")) / 1e9 },
  { dir: "/sys/fs/cgroup/docker", read: (id) => Number(/usage_usec (\d+)/.exec(readFileSync(`/sys/fs/cgroup/docker/${id}/cpu.stat`, "utf8"))[1]) / 1e6 },
  {
    dir: "/sys/fs/cgroup/system.slice",
    ids: () => readdirSync("/sys/fs/cgroup/system.slice").flatMap((d) => /^docker-([0-9a-f]{64})\.scope$/.exec(d)?.[1] ?? []),
    read: (id) => Number(/usage_usec (\d+)/.exec(readFileSync(`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, "utf8"))[1]) / 1e6,
  },
];
const layout = layouts.find((l) => existsSync(l.dir));
const ids = () => (layout.ids ? layout.ids() : readdirSync(layout.dir).filter((d) => /^[0-9a-f]{64}$/.test(d)));

/** busy core-seconds of the whole machine so far */
function machineBusy() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / 100;
}

if (!layout) {
  console.log("[cpu] no cgroup CPU accounting found: no CPU profile this run");
  process.exit(0);
}

const baseline = new Map(); // id -> seconds used before the run
const used = new Map(); // id -> seconds used during the run (the largest seen: a removed container keeps its last)
const names = new Map(); // id -> "lab-1" (a lab server) or "lab-1/btw-acme-n8n" (a container inside one)
const busy0 = machineBusy();
const t0 = Date.now();
// cores busy, averaged per minute: whether the run was CPU-bound all along or only in parts
// (e.g. while unit and integration ran beside the e2e lanes)
const perMinute = [];
let minuteMark = busy0;

function sample(first) {
  for (const id of ids()) {
    let s;
    try {
      s = layout.read(id);
    } catch {
      continue;
    }
    if (first) baseline.set(id, s);
    else used.set(id, Math.max(used.get(id) ?? 0, s - (baseline.get(id) ?? 0)));
    if (!names.has(id) && servers.size > 0) {
      const n = nameInside(id);
      if (n !== undefined) names.set(id, n);
    }
  }
}

// Names cost nothing to read: a lab server is a container of this machine, and its own engine
// keeps each container's name in /var/lib/docker/containers/<id>/config.v2.json, reachable
// through /proc/<the server's pid>/root. (Asking the engines — \`docker exec <server> docker
// ps\` at every new container — cost ~10 % of a core and slowed the suite it measured.)
const servers = new Map(); // lab server name -> its pid on this machine
async function name() {
  try {
    const { stdout } = await run("docker", ["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"], { timeout: 10_000 });
    const labs = [];
    for (const line of stdout.trim().split("\n").filter(Boolean)) {
      const [id, n] = line.split(" ");
      names.set(id, n);
      if (/^lab-/.test(n)) labs.push(n);
    }
    const r = labs.length ? await run("docker", ["inspect", "--format", "{{.Name}} {{.State.Pid}}", ...labs], { timeout: 10_000 }) : { stdout: "" };
    servers.clear();
    for (const line of r.stdout.trim().split("\n").filter(Boolean)) {
      const [n, pid] = line.split(" ");
      if (Number(pid) > 0) servers.set(n.replace(/^\//, ""), Number(pid));
    }
  } catch {
    // no engine answering: names from earlier samples stay
  }
}

/** a container inside a lab server, named from that server's engine files (a remapped engine keeps them one level down) */
function nameInside(id) {
  for (const [server, pid] of servers) {
    const roots = [`/proc/${pid}/root/var/lib/docker`];
    try {
      for (const d of readdirSync(roots[0])) if (/^\d+\.\d+$/.test(d)) roots.push(`${roots[0]}/${d}`);
    } catch {
      continue;
    }
    for (const root of roots) {
      try {
        const n = JSON.parse(readFileSync(`${root}/containers/${id}/config.v2.json`, "utf8")).Name;
        if (typeof n === "string") return `${server}/${n.replace(/^\//, "")}`;
      } catch {
        // not this server's
      }
    }
  }
  return undefined;
}

/** the part of the suite a container is: a tenant's service, a proxy, a lab server's own processes */
function part(id) {
  const n = names.get(id);
  if (n === undefined) return "containers gone before they were named";
  if (!n.includes("/")) return /^lab-/.test(n) ? "lab servers' own processes (engine, compose, ssh, runc)" : `host container ${n}`;
  const inner = n.slice(n.indexOf("/") + 1).replace(/^[0-9a-f]{12}_/, "");
  const service = /^btw-.+-(n8n|runner|worker|worker-runner|postgres|redis)$/.exec(inner)?.[1];
  if (service) return `tenants' ${service}`;
  if (inner === "btw-proxy") return "proxies (Caddy)";
  return `other: ${inner.replace(/^btw-[a-z0-9-]+?-(?=[a-z]+$)/, "btw-*-")}`;
}

function report() {
  const seconds = (Date.now() - t0) / 1000;
  const machine = machineBusy() - busy0;
  const byPart = {};
  let containers = 0;
  for (const [id, s] of used) {
    byPart[part(id)] = (byPart[part(id)] ?? 0) + s;
    containers += s;
  }
  byPart["outside containers (vitest, btw, ssh, integration's PostgreSQL, this machine's engine)"] = Math.max(0, machine - containers);
  const parts = Object.entries(byPart)
    .sort((a, b) => b[1] - a[1])
    .map(([p, s]) => ({ part: p, coreSeconds: Math.round(s), share: machine > 0 ? Math.round((s / machine) * 1000) / 10 : 0 }));
  const doc = { seconds: Math.round(seconds), cores: (readFileSync("/proc/cpuinfo", "utf8").match(/^processor\s*:/gm) ?? []).length, busyCoreSeconds: Math.round(machine), parts, coresBusyPerMinute: perMinute };
  writeFileSync("test-results/cpu.json", `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`\n[cpu] ${doc.busyCoreSeconds} core-s busy of ${doc.cores * doc.seconds} over ${Math.round(seconds / 60)} min (test-results/cpu.json):`);
  for (const p of parts.filter((x) => x.share >= 0.5)) console.log(`  ${String(p.share).padStart(5)} %  ${String(p.coreSeconds).padStart(6)} core-s  ${p.part}`);
  const fives = [];
  for (let i = 0; i < perMinute.length; i += 5) fives.push(perMinute.slice(i, i + 5).reduce((a, b) => a + b, 0) / Math.min(5, perMinute.length - i));
  if (fives.length) console.log(`[cpu] cores busy, each 5 min: ${fives.map((x) => x.toFixed(2)).join(" ")}`);
}

await name();
sample(true);
// this machine's own engine is asked again once a minute (a lab server started or restarted)
let ticks = 0;
const timer = setInterval(() => {
  if (++ticks % 12 === 0) {
    void name();
    const now = machineBusy();
    perMinute.push(Math.round(((now - minuteMark) / 60) * 100) / 100);
    minuteMark = now;
  }
  sample(false);
}, INTERVAL_MS);
process.on("SIGTERM", () => {
  clearInterval(timer);
  sample(false);
  report();
  process.exit(0);
});
