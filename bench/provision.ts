import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { composeUp } from "../src/core/commands/compose.js";
import { renderTenantEnv } from "../src/core/tenant/env.js";
import { generateTenantSecrets } from "../src/core/tenant/secrets.js";
import { benchConfig, benchLab, benchServer, dropStack, putStack, root, sshTo } from "./lab.js";
import { median, percentile } from "./stats.js";

// `btw tenant create` on a warm lab server against its floor, measured in the same run: a
// bare `docker compose up -d --wait` of the same stack (same compose file, same plan's .env,
// images already on the server) — n8n's health check is its readiness endpoint. What btw adds
// on top: state, secrets, SSH round trips, the proxy, n8n's owner/API key/credentials/WF1–3.
// Goals (issue 21): median ≤ 12 s over ≥ 5 creates, and ≤ 1.0× the floor of the same run.
// Also prints where a create spends its time: each step's median, from btw's own progress lines.

const btw = join(root, "bin", "btw");
const runs = Number(process.env.BENCH_RUNS ?? 5);

const lab = benchLab();
const vm = benchServer(lab);
const ssh = sshTo(vm);
const config = benchConfig(lab);
const plan = config.plans.pro!;

function floorOnce(slug: string): number {
  const secrets = generateTenantSecrets((n) => randomBytes(n));
  const env = renderTenantEnv({ slug, domain: "lab.btw.test", plan, images: config.images, timezone: "Europe/Paris", subnet: "10.221.0.0/26", tls: "off", secrets });
  putStack(ssh, slug, readFileSync(join(root, "templates/tenant/compose.yml"), "utf8"), env);
  const t0 = performance.now();
  ssh(composeUp(slug, { profiles: [], wait: 300 }));
  const dt = performance.now() - t0;
  dropStack(ssh, slug);
  return dt;
}

const STEP_NAMES = ["ship compose file", "ensure the server's proxy", "clone the prepared n8n database", "start the stack", "create the content schema", "set up n8n", "route the tenant"];

const home = mkdtempSync(join(tmpdir(), "btw-bench-provision-"));
const env = { ...process.env, BTW_HOME: home, NO_COLOR: "1" };
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [btw, ...args], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`btw ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r;
};
try {
  run(["init", "--domain", "lab.btw.test", "--tls", "off", "--merge", lab.config]);
  run(["server", "add", vm.name, "--host", vm.host, "--port", String(vm.port), "--user", vm.user, "--ssh-key", vm.sshKey]);
  console.error(`warm-up on ${vm.name} (images pulled, proxy started)…`);
  floorOnce("bench-warm");
  run(["tenant", "create", "bench-warm", "--plan", "pro", "--server", vm.name]);
  run(["tenant", "delete", "bench-warm", "--purge", "--no-final-backup", "--yes"]);

  const floor: number[] = [];
  const create: number[] = [];
  const steps = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    floor.push(floorOnce(`bench-floor-${i}`));
    const t0 = performance.now();
    const r = run(["tenant", "create", `bench-${i}`, "--plan", "pro", "--server", vm.name]);
    create.push(performance.now() - t0);
    // btw's progress lines end with the step's duration, "… (1.2s)"; a step is named by the
    // titles it contains (two at once when they ran concurrently)
    for (const m of r.stderr.matchAll(/^(.*)\((\d+(?:\.\d+)?)s\)\s*$/gm)) {
      const names = STEP_NAMES.filter((n) => m[1]!.includes(n));
      if (names.length) steps.set(names.join(" | "), [...(steps.get(names.join(" | ")) ?? []), Number(m[2]) * 1000]);
    }
    run(["tenant", "delete", `bench-${i}`, "--purge", "--no-final-backup", "--yes"]);
    console.error(`run ${i + 1}/${runs}: floor ${(floor[i]! / 1000).toFixed(1)} s, tenant create ${(create[i]! / 1000).toFixed(1)} s`);
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const f = median(floor);
  const c = median(create);
  console.log(`tenant create (pro) on ${vm.name}, warm, ${runs} runs:`);
  console.log(`  floor: docker compose up -d --wait   p50 ${s(f)}  p95 ${s(percentile(floor, 95))}  (min ${s(Math.min(...floor))}, max ${s(Math.max(...floor))})`);
  console.log(`  btw tenant create                  p50 ${s(c)}  p95 ${s(percentile(create, 95))}  (min ${s(Math.min(...create))}, max ${s(Math.max(...create))})`);
  console.log(`  ratio of medians ${(c / f).toFixed(2)}× (goal ≤ 1.0) — median ${c <= 12_000 ? "≤" : ">"} 12 s`);
  console.log("  where a create spends its time (median per step; `a | b` ran at once):");
  for (const [title, xs] of steps) console.log(`    ${s(median(xs)).padStart(7)}  ${title}`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
