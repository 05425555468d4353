import { randomBytes } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { composeUp } from "../src/core/commands/compose.js";
import { renderTenantEnv } from "../src/core/tenant/env.js";
import { generateTenantSecrets } from "../src/core/tenant/secrets.js";
import { benchConfig, benchLab, benchServer, dropStack, putStack, root, sshTo } from "./lab.js";
import { median } from "./stats.js";

// What one tenant stack costs a server in CPU when nobody uses it, and while it starts: the
// template's health checks (each waits inside itself, up to 20 s, and runs once a minute when
// healthy) against the baseline of the same run — the same template with the checks as they
// were until 2026-12-07 (one probe a check, every 30 s, every 1–2 s while starting).
// Counted: the stack's containers and the server's own engine (dockerd, containerd, the shims,
// runc: where a check's exec costs), read from cgroup v1's cpuacct as the lab has it.
// Env: BENCH_SERVER (a lab VM, default the last), BENCH_RUNS (rounds, default 2),
// BENCH_IDLE_SECONDS (the idle window, default 120).

const rounds = Number(process.env.BENCH_RUNS ?? 2);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 120);

const lab = benchLab();
const vm = benchServer(lab);
const ssh = sshTo(vm);

// the lab VM is a container of this machine's engine: its cgroup holds the server's engine
const vmId = execFileSync("docker", ["inspect", "--format", "{{.Id}}", vm.name], { encoding: "utf8" }).trim();
const cpuacct = (id: string) => `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
const engineCpu = (): number => Number(readFileSync(cpuacct(vmId), "utf8")) / 1e9;
/** CPU seconds of each of the stack's containers, read on the server (it sees the same hierarchy) */
const stackCpu = (slug: string): number => {
  const out = ssh(["sh", "-c", 'for id in $(docker ps -q --no-trunc --filter "label=btw.tenant=$1"); do cat "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage"; done', "sh", slug]);
  return out.split("\n").filter(Boolean).reduce((a, n) => a + Number(n) / 1e9, 0);
};

const template = readFileSync(join(root, "templates/tenant/compose.yml"), "utf8");
/** The checks as they were: one probe an exec, every 30 s; n8n and its runner every 2 s while starting. */
function baselineChecks(t: string): string {
  const out = t
    .replace(/end=\$\$\(\(\$\$\(date \+%s\) \+ 20\)\); until (.+?); do \[ \$\$\(date \+%s\) -ge \$\$end \] && exit 1; sleep [0-9.]+; done/g, "$1")
    .replace(/interval: 60s/g, "interval: 30s")
    .replace(/timeout: 30s/g, "timeout: 5s")
    .replace(/start_period: 180s(\s+)start_interval: 1s/g, "start_period: 180s$1start_interval: 2s");
  if (out === t || out.includes("date +%s")) throw new Error("the template's health checks changed shape: update baselineChecks()");
  return out;
}

const config = benchConfig(lab);
const plan = config.plans.pro!;

interface Sample {
  bootSeconds: number;
  bootCpu: number;
  idleCpuPerMinute: number;
  idleStack: number;
  idleEngine: number;
}

function once(slug: string, compose: string): Sample {
  const secrets = generateTenantSecrets((n) => randomBytes(n));
  const env = renderTenantEnv({ slug, domain: "lab.btw.test", plan, images: config.images, timezone: "Europe/Paris", subnet: "10.222.0.0/26", tls: "off", secrets });
  putStack(ssh, slug, compose, env);
  try {
    const e0 = engineCpu();
    const t0 = performance.now();
    ssh(composeUp(slug, { profiles: [], wait: 300 }));
    const bootSeconds = (performance.now() - t0) / 1000;
    const bootCpu = engineCpu() - e0 + stackCpu(slug);
    // settle (n8n's first minute: its workflows, its runner's first connection), then the idle window
    spawnSync("sleep", ["30"]);
    const s1 = stackCpu(slug);
    const e1 = engineCpu();
    spawnSync("sleep", [String(idleSeconds)]);
    const idleEngine = engineCpu() - e1;
    const idleStack = stackCpu(slug) - s1;
    return { bootSeconds, bootCpu, idleCpuPerMinute: ((idleEngine + idleStack) * 60) / idleSeconds, idleStack: (idleStack * 60) / idleSeconds, idleEngine: (idleEngine * 60) / idleSeconds };
  } finally {
    dropStack(ssh, slug);
  }
}

const variants = { baseline: baselineChecks(template), current: template } as const;
const results: Record<keyof typeof variants, Sample[]> = { baseline: [], current: [] };
for (let i = 0; i < rounds; i++) {
  // alternate the order so that a drift of the machine does not favour one
  const order = (i % 2 === 0 ? ["baseline", "current"] : ["current", "baseline"]) as Array<keyof typeof variants>;
  for (const v of order) {
    const s = once(`bench-idle-${v}`, variants[v]);
    results[v].push(s);
    console.error(`round ${i + 1}/${rounds} ${v}: up --wait ${s.bootSeconds.toFixed(1)} s (${s.bootCpu.toFixed(1)} s CPU), idle ${s.idleCpuPerMinute.toFixed(2)} s CPU/min`);
  }
}
const m = (v: keyof typeof variants, k: keyof Sample) => median(results[v].map((s) => s[k]));
console.log(`one pro tenant stack on ${vm.name}, ${rounds} round(s), idle window ${idleSeconds} s; CPU = its containers + the server's engine`);
for (const v of ["baseline", "current"] as const) {
  console.log(`  ${v.padEnd(8)}  up --wait ${m(v, "bootSeconds").toFixed(1).padStart(5)} s, ${m(v, "bootCpu").toFixed(1).padStart(5)} s CPU   idle ${m(v, "idleCpuPerMinute").toFixed(2)} s CPU a minute (stack ${m(v, "idleStack").toFixed(2)}, engine ${m(v, "idleEngine").toFixed(2)})`);
}
console.log(`  ratio current/baseline: up --wait ${(m("current", "bootSeconds") / m("baseline", "bootSeconds")).toFixed(2)}×, boot CPU ${(m("current", "bootCpu") / m("baseline", "bootCpu")).toFixed(2)}×, idle CPU ${(m("current", "idleCpuPerMinute") / m("baseline", "idleCpuPerMinute")).toFixed(2)}×`);
