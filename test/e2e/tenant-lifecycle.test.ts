import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BtwHome, BtwResult } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, proxyMetricsToken, viaProxy, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { onceN8nAnswers } from "./support/n8n-answers.js";
import { LAB_N8N_CPUS } from "../lab/lab.js";

// Time: ~5–9 min (295 s in two lanes beside unit and integration on a quiet machine, 483 s
// on a fresh one while the lab built its first-use images, 2026-12-07; alone on a quiet lab
// 209 s, then 290 s with queue mode, of which queue mode 80 s): two tenants created once
// (orbit pro, beta starter) and used by all 16 checks — isolation, logs, exec, hardening, the
// hostile workflow (CPU, memory, fork and disk bombs, each phase with beta's latency
// measured), suspend/resume, set-plan three times (queue mode and back), delete and purge.
//
// The main job on real servers: `btw tenant create` on a lab VM and everything around it.
describe("tenant lifecycle on the lab", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm: LabServer;
  const outputs: BtwResult[] = [];
  let betaWorkflows = 0;
  const btw = async (args: string[]) => {
    const r = await home.run(args);
    outputs.push(r);
    return r;
  };

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    home = await labHome(lab, { servers: [vm.name] });
  });
  afterAll(async () => {
    await Promise.all(["orbit", "beta"].map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"]))); // at once: each takes its own tenant lock
    home?.cleanup();
  });

  it("creates orbit (pro): healthy stack, routed through the proxy", async () => {
    const r = await btw(["tenant", "create", "orbit", "--plan", "pro", "--server", vm.name, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { tenant: { status: string; url: string }; seconds: number };
    expect(out.tenant.status).toBe("active");
    expect(out.tenant.url).toBe(`http://orbit.${LAB_DOMAIN}/`);

    const status = await btw(["tenant", "status", "orbit", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { healthy: boolean; n8nReady: boolean; containers: { service: string; health: string }[] };
    expect(s.n8nReady).toBe(true);
    expect(s.containers.map((c) => c.service).sort()).toEqual(["n8n", "postgres", "redis", "runner"]);
    expect(s.healthy).toBe(true);

    const res = await viaProxy(vm, `orbit.${LAB_DOMAIN}`, "/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toContain("ok");
  });

  it("an unknown host gets 404 from the proxy, not another tenant", async () => {
    const res = await viaProxy(vm, `nobody.${LAB_DOMAIN}`, "/healthz");
    expect(res.status).toBe(404);
  });

  it("creates a second tenant on the same server, isolated from the first", async () => {
    const r = await btw(["tenant", "create", "beta", "--plan", "starter", "--server", vm.name]);
    expect(r.code, r.stderr).toBe(0);
    const ipOf = async (container: string, network: string) => {
      const x = await onVm(vm, ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container]);
      return (JSON.parse(x.stdout) as Record<string, { IPAddress: string }>)[network]!.IPAddress;
    };
    const targets = [
      [await ipOf("btw-beta-postgres", "btw-beta-internal"), 5432],
      [await ipOf("btw-beta-redis", "btw-beta-internal"), 6379],
      [await ipOf("btw-beta-n8n", "btw-beta-edge"), 5678],
    ] as const;
    for (const [ip, port] of targets) {
      const probe = `const s=require('net').connect(${port},'${ip}');s.setTimeout(3000);s.on('connect',()=>{console.log('OPEN');process.exit(0)});s.on('timeout',()=>{console.log('CLOSED');process.exit(0)});s.on('error',()=>{console.log('CLOSED');process.exit(0)})`;
      const x = await onVm(vm, ["docker", "exec", "btw-orbit-n8n", "node", "-e", probe]);
      expect(x.stdout.trim(), `${ip}:${port} from orbit's n8n`).toBe("CLOSED");
    }
    // …while orbit's n8n does reach its own database (the probe can succeed)
    const own = await ipOf("btw-orbit-postgres", "btw-orbit-internal");
    const x = await onVm(vm, ["docker", "exec", "btw-orbit-n8n", "node", "-e", `require('net').connect(5432,'${own}').on('connect',()=>{console.log('OPEN');process.exit(0)}).on('error',()=>{console.log('CLOSED');process.exit(0)})`]);
    expect(x.stdout.trim()).toBe("OPEN");
  });

  // issue 22 item 4: the proxy sits on every tenant's edge network, and its private metrics
  // listener used to trust addresses; now it asks for the server's token and refuses the
  // tenants' pool outright
  it("orbit's n8n cannot read beta's metrics from the proxy in its own network, token or not; the token holder can", async () => {
    // the paths and their token are in this state's own metrics file (sites/<state id>.metrics)
    const { file: own, token } = await proxyMetricsToken(vm, "beta");
    expect(own, "one state's metrics file routes beta").toMatch(/^\/opt\/btw\/proxy\/conf\/sites\/[^\n]+\.metrics$/);
    expect(token, "the metrics listener asks for the server's token").toBeDefined();
    expect((await onVm(vm, ["stat", "-c", "%a", own])).stdout.trim()).toBe("600");
    expect((await onVm(vm, ["stat", "-c", "%a", "/opt/btw/proxy/conf/Caddyfile"])).stdout.trim()).toBe("600");
    const fromOrbit = async (headers: Record<string, string>) => {
      const probe = `require('http').get({host:'btw-proxy',port:9180,path:'/tenants/beta/metrics',headers:${JSON.stringify(headers)},timeout:5000},(r)=>{console.log(r.statusCode);process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})`;
      return (await onVm(vm, ["docker", "exec", "btw-orbit-n8n", "node", "-e", probe])).stdout.trim();
    };
    expect(await fromOrbit({})).toBe("403");
    expect(await fromOrbit({ Authorization: `Bearer ${token}` })).toBe("403");
    // the listener itself, from the proxy's own loopback: 401 without the token, beta's n8n metrics with it
    const wget = (auth: string[]) => onVm(vm, ["docker", "exec", "btw-proxy", "wget", "-q", "-O-", ...auth, "http://127.0.0.1:9180/tenants/beta/metrics"]);
    expect((await wget([])).code).not.toBe(0);
    const served = await wget(["--header", `Authorization: Bearer ${token}`]);
    expect(served.code, served.stderr).toBe(0);
    expect(served.stdout).toMatch(/^n8n_\w+/m);
  });

  // issue 22 item 10: isolation was never checked — a host added with `server add` took
  // tenants without BTW-ISOLATION, and a flushed ruleset went unnoticed
  it("isolation is checked: server add installed it; a flush lets orbit reach the host's sshd, makes status degraded (exit 3) and doctor name the fix, and a check refuses the server for tenants until `server isolate`", async () => {
    const sshFromOrbit = async () => {
      const probe = `const s=require('net').connect(22,'${vm.host}');s.setTimeout(3000);s.on('connect',()=>{console.log('OPEN');process.exit(0)});s.on('timeout',()=>{console.log('CLOSED');process.exit(0)});s.on('error',()=>{console.log('CLOSED');process.exit(0)})`;
      return (await onVm(vm, ["docker", "exec", "btw-orbit-n8n", "node", "-e", probe])).stdout.trim();
    };
    type Row = { server: string; isolation: string; isolationProblems: string[] };
    const isolationRow = async () => ((JSON.parse((await btw(["status", "--json"])).stdout) as { servers: Row[] }).servers.find((r) => r.server === vm.name))!;
    // labHome's `server add` installed the rules and its check found them in force
    expect((await onVm(vm, ["iptables-save", "-t", "filter"])).stdout).toContain("-A DOCKER-USER -j BTW-ISOLATION");
    expect((await isolationRow()).isolation).toBe("in-place");
    expect(await sshFromOrbit()).toBe("CLOSED");

    await onVm(vm, ["sh", "-c", "iptables -w -F BTW-ISOLATION && iptables -w -F BTW-ISOLATION-INPUT"]);
    try {
      expect(await sshFromOrbit(), "what the rules are for").toBe("OPEN");
      const st = await btw(["status", "--json"]);
      expect(st.code, st.stdout).toBe(3);
      const row = (JSON.parse(st.stdout) as { servers: Row[] }).servers.find((r) => r.server === vm.name)!;
      expect(row.isolation).toBe("missing");
      expect(row.isolationProblems[0]).toContain(`btw server isolate ${vm.name}`);
      const doctor = await btw(["doctor", "--json"]);
      expect(doctor.code).toBe(1);
      const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ check: string; level: string; fix?: string }> }).checks;
      expect(checks.find((c) => c.check === `isolation ${vm.name}`)).toMatchObject({ level: "fail", fix: `btw server isolate ${vm.name}` });
      expect((await btw(["server", "check", vm.name])).code).toBe(0);
      const create = await btw(["tenant", "create", "gamma", "--plan", "starter", "--server", vm.name, "--dry-run"]);
      expect(create.code, create.stderr).toBe(2);
      expect(create.stderr).toMatch(new RegExp(`btw server isolate ${vm.name}`));
    } finally {
      const iso = await btw(["server", "isolate", vm.name, "--json"]);
      expect(iso.code, iso.stderr).toBe(0);
    }
    expect((await isolationRow()).isolation).toBe("in-place");
    expect(await sshFromOrbit()).toBe("CLOSED");
    expect((await btw(["tenant", "create", "gamma", "--plan", "starter", "--server", vm.name, "--dry-run"])).code).toBe(0);
  });

  // issue 22 (Also): commands no test had run to success
  it("tenant logs prints the stack's own lines (n8n's as the engine has them; every service without --service) and no secret", async () => {
    const env = (await onVm(vm, ["cat", "/opt/btw/tenants/orbit/.env"])).stdout;
    const secrets = ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_ENCRYPTION_KEY"].map((k) => new RegExp(`^${k}=(.*)$`, "m").exec(env)![1]!.replace(/^'|'$/g, ""));
    const own = await onVm(vm, ["docker", "logs", "btw-orbit-n8n"]);
    const lines = `${own.stdout}\n${own.stderr}`.split("\n").map((l) => l.trim()).filter(Boolean);
    expect(lines.length, "n8n has logged its start by now").toBeGreaterThan(0);
    const n8n = await btw(["tenant", "logs", "orbit", "--service", "n8n"]);
    expect(n8n.code, n8n.stderr).toBe(0);
    for (const l of lines) expect(n8n.stdout, "each of n8n's own lines, in btw's stdout").toContain(l);
    const tail = await btw(["tenant", "logs", "orbit", "--service", "n8n", "--tail", "3"]);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout.split("\n").filter(Boolean).length).toBeLessThanOrEqual(3);
    // without --service: the whole stack, each line prefixed with its container
    const all = await btw(["tenant", "logs", "orbit", "--tail", "20"]);
    expect(all.code, all.stderr).toBe(0);
    const prefixes = new Set(all.stdout.split("\n").filter(Boolean).map((l) => /^(\S+)\s+\|/.exec(l)?.[1] ?? l));
    for (const service of ["postgres", "redis", "n8n"]) expect([...prefixes].some((p) => p.includes(service)), `${service} in ${[...prefixes].join(", ")}`).toBe(true);
    for (const r of [n8n, tail, all]) for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
  });

  it("tenant exec runs in orbit's own containers (n8n by default, --service postgres), pipes stdin, returns the remote exit code, and is audited", async () => {
    const hostname = (await onVm(vm, ["docker", "inspect", "--format", "{{.Config.Hostname}}", "btw-orbit-n8n"])).stdout.trim();
    const who = await btw(["tenant", "exec", "orbit", "--", "node", "-e", "console.log(require('os').hostname() + ' ' + process.env.N8N_HOST)"]);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout.trim()).toBe(`${hostname} orbit.${LAB_DOMAIN}`);
    const piped = await home.run(["tenant", "exec", "orbit", "--", "cat"], { input: "through stdin\n" });
    outputs.push(piped);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe("through stdin");
    expect((await btw(["tenant", "exec", "orbit", "--", "sh", "-c", "exit 7"])).code).toBe(7);
    const pg = await btw(["tenant", "exec", "orbit", "--service", "postgres", "--", "psql", "-U", "n8n", "-d", "n8n", "-XAtc", "select count(*) from workflow_entity"]);
    expect(pg.code, pg.stderr).toBe(0);
    expect(Number(pg.stdout.trim()), "orbit's WF1–WF3, in orbit's database").toBeGreaterThanOrEqual(3);
    const audit = JSON.parse((await btw(["audit", "--json", "--action", "tenant.exec"])).stdout) as { entries: { action: string; target: string; details: { service: string; program: string } }[] };
    expect(audit.entries.map((e) => [e.target, e.details.service, e.details.program]).sort()).toEqual([
      ["orbit", "n8n", "cat"],
      ["orbit", "n8n", "node"],
      ["orbit", "n8n", "sh"],
      ["orbit", "postgres", "psql"],
    ]);
  });

  it("publishes no port but the proxy's; .env is 0600; no secret in the process list", async () => {
    const ports = await onVm(vm, ["docker", "ps", "--format", "{{.Names}} {{.Ports}}"]);
    const publishing = ports.stdout.split("\n").filter((l) => /->/.test(l)).map((l) => l.split(" ")[0]);
    expect(publishing).toEqual(["btw-proxy"]);
    const mode = await onVm(vm, ["stat", "-c", "%a %U", "/opt/btw/tenants/orbit/.env"]);
    expect(mode.stdout.trim()).toBe("600 root");
    const env = (await onVm(vm, ["cat", "/opt/btw/tenants/orbit/.env"])).stdout;
    const secrets = ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_ENCRYPTION_KEY"].map((k) => new RegExp(`^${k}=(.*)$`, "m").exec(env)![1]!.replace(/^'|'$/g, ""));
    expect(secrets.every((s) => s.length >= 16)).toBe(true);
    const ps = (await onVm(vm, ["ps", "auxww"])).stdout;
    for (const s of secrets) expect(ps).not.toContain(s);
    // …nor in anything btw printed, nor in plaintext in the embedded state store
    for (const o of outputs) for (const s of secrets) expect(o.stdout + o.stderr).not.toContain(s);
    // regular files only: the embedded server's data directory also holds its Unix socket
    const stateFiles = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const st = statSync(join(dir, f));
        return st.isDirectory() ? stateFiles(join(dir, f)) : st.isFile() ? [join(dir, f)] : [];
      });
    for (const f of stateFiles(join(home.dir, "state"))) {
      const bytes = readFileSync(f);
      for (const s of secrets) expect(bytes.includes(Buffer.from(s)), `${s.slice(0, 4)}… in ${f}`).toBe(false);
    }
  });

  it("orbit's containers run hardened (issue 24): no capabilities left in n8n and its runner, read-only roots, no new privileges; Postgres and Redis keep only their entrypoints' capabilities; the runner reaches its n8n and the Internet, not Postgres, Redis, the other tenant or the server", async () => {
    const inspect = async (c: string) =>
      JSON.parse((await onVm(vm, ["docker", "inspect", "--format", "{{json .HostConfig}}|{{json .Config.User}}", c])).stdout.split("|")[0]!) as { CapDrop: string[] | null; CapAdd: string[] | null; ReadonlyRootfs: boolean; SecurityOpt: string[] | null; Privileged: boolean };
    for (const [c, adds, ro] of [
      ["btw-orbit-n8n", [], true],
      ["btw-orbit-runner", [], true],
      ["btw-orbit-postgres", ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"], true],
      ["btw-orbit-redis", ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"], false],
    ] as const) {
      const h = await inspect(c);
      expect({ c, drop: h.CapDrop, add: [...(h.CapAdd ?? [])].sort(), ro: h.ReadonlyRootfs, privileged: h.Privileged }).toEqual({ c, drop: ["ALL"], add: [...adds], ro, privileged: false });
      expect(h.SecurityOpt).toContain("no-new-privileges:true");
    }
    // what n8n and a customer's Code node (in the runner, its own container) find inside: uid
    // 1000, no effective or bounding capability, no new privileges, a root filesystem they
    // cannot write, and n8n still answering
    for (const c of ["btw-orbit-n8n", "btw-orbit-runner"]) {
      const status = (await onVm(vm, ["docker", "exec", c, "cat", "/proc/1/status"])).stdout;
      expect(/^Uid:\s+1000\s/m.test(status), status).toBe(true);
      expect(/^CapEff:\s+0+$/m.test(status) && /^CapBnd:\s+0+$/m.test(status) && /^NoNewPrivs:\s+1$/m.test(status), status).toBe(true);
      const write = await onVm(vm, ["docker", "exec", c, "sh", "-c", "touch /usr/local/lib/x 2>&1; touch /home/node/x 2>&1; touch /tmp/x && echo tmp-ok"]);
      expect(write.stdout).toMatch(/Read-only file system[\s\S]*Read-only file system[\s\S]*tmp-ok/);
    }
    // the runner: connected to its n8n (healthy), and boxed in. It reaches its n8n's broker and,
    // as n8n does, the world outside (the lab's registry on the host's bridge stands for the
    // Internet); not the tenant's Postgres or Redis, not the other tenant's n8n, not the
    // server's own sshd (the isolation rules)
    expect((await onVm(vm, ["docker", "inspect", "--format", "{{.State.Health.Status}}", "btw-orbit-runner"])).stdout.trim()).toBe("healthy");
    // the process that runs customers' code was started without the auth token: its
    // /proc/1/environ (what an escape from the sandbox could read) names no token
    const environ = (await onVm(vm, ["docker", "exec", "btw-orbit-runner", "cat", "/proc/1/environ"])).stdout;
    expect(environ).toContain("N8N_RUNNERS_TASK_BROKER_URI=");
    expect(environ).not.toContain("N8N_RUNNERS_AUTH_TOKEN");
    const dial = async (host: string, port: number): Promise<string> =>
      (await onVm(vm, ["docker", "exec", "btw-orbit-runner", "node", "-e", `const s=require("net").connect(${port},"${host}");s.setTimeout(3000,()=>{console.log("timeout");process.exit(0)});s.on("connect",()=>{console.log("open");process.exit(0)}).on("error",(e)=>{console.log(e.code);process.exit(0)})`])).stdout.trim();
    const closed = /^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|timeout)$/;
    const probes = await Promise.all([dial("n8n", 5679), dial("172.29.0.1", 5000), dial("postgres", 5432), dial("redis", 6379), dial("n8n-beta", 5678), dial(vm.host, 22)]);
    expect(probes.slice(0, 2), probes.join(" ")).toEqual(["open", "open"]);
    for (const p of probes.slice(2)) expect(p, probes.join(" ")).toMatch(closed);
    expect((await viaProxy(vm, `orbit.${LAB_DOMAIN}`, "/healthz/readiness")).status).toBe(200);
  });

  it("a hostile workflow in orbit (issue 24): its Code node reads no secret, runs no process, opens no socket, generates no code; a CPU spin, a memory bomb, a fork bomb and a disk filler leave beta answering within its normal latency; orbit's runner comes back", async () => {
    const { tenantApi, tenantSecrets } = await import("../integration/backup/tenant-api.js");
    const { PROBE_CODE, MEMORY_BOMB_CODE, median, runCode, spinCode } = await import("./support/hostile.js");
    const secrets = await tenantSecrets(home, "orbit");
    const { runnersAuthToken } = await import("../../src/core/tenant/env.js");
    const secretValues = ["N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_API_KEY", "N8N_OWNER_PASSWORD"].map((k) => secrets.get(k)!).filter(Boolean);
    expect(secretValues.length).toBeGreaterThanOrEqual(4);
    // and the token the runner itself was started with
    secretValues.push(runnersAuthToken(secrets.get("N8N_ENCRYPTION_KEY")!));
    const api = await tenantApi(home, vm, "orbit", LAB_DOMAIN);
    try {
      // 1. the probes, in the sandbox of the Code node
      const probe = await runCode(api, "hostile: probes", PROBE_CODE);
      expect(probe.status, probe.error ?? "").toBe("success");
      const found = probe.json as Record<string, { ok: boolean; value?: string; error?: string }>;
      const everything = JSON.stringify(found);
      for (const v of secretValues) expect(everything.includes(v), "a secret reached the Code node").toBe(false);
      for (const name of ["require fs /proc/1/environ", "require fs settings file", "require child_process", "require net", "require http", "Function from a string", "this.constructor escape"]) {
        expect({ name, ok: found[name]?.ok }, JSON.stringify(found[name])).toEqual({ name, ok: false });
      }
      // eval runs (Node's --disallow-code-generation-from-strings leaves vm contexts alone), but in
      // the sandbox: no process there
      expect(found["eval of process.env"]?.ok === false || !/PASSWORD|ENCRYPTION|RUNNERS/.test(found["eval of process.env"]?.value ?? ""), JSON.stringify(found["eval of process.env"])).toBe(true);
      // $env is blocked (N8N_BLOCK_ENV_ACCESS_IN_NODE), so is the process's environment
      for (const name of ["$env.N8N_ENCRYPTION_KEY", "$env.DB_POSTGRESDB_PASSWORD"]) expect(found[name]?.ok === false || found[name]?.value === "null", JSON.stringify(found[name])).toBe(true);
      expect(found["process.env"]?.ok === false || !/PASSWORD|ENCRYPTION/.test(found["process.env"]?.value ?? ""), JSON.stringify(found["process.env"])).toBe(true);

      // 2. the neighbours: beta's latency through the proxy, before and while orbit misbehaves
      const sample = async (n: number): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const r = await viaProxy(vm, `beta.${LAB_DOMAIN}`, "/healthz");
          expect(r.status).toBe(200);
          out.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 200));
        }
        return out;
      };
      const before = await sample(15);
      const ms = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
      // (a) a CPU spin of 15 s in a Code node
      const spin = runCode(api, "hostile: cpu spin", spinCode(15));
      await new Promise((r) => setTimeout(r, 3000));
      const duringSpin = await sample(15);
      const spun = await spin;
      expect(spun.status, spun.error ?? "").toBe("success");
      expect(Number(spun.json?.n)).toBeGreaterThan(1_000_000);
      // (b) a memory bomb in a Code node: the runner dies at its memory limit, n8n reports the error
      const bomb = runCode(api, "hostile: memory bomb", MEMORY_BOMB_CODE);
      const duringBomb = await sample(15);
      const bombed = await bomb;
      expect(bombed.status).toBe("error");
      // (c) as if the sandbox were escaped: the runner process itself forking past its pids limit
      // and filling its filesystem (read-only root, 64 MB tmpfs counted in its memory). Once the
      // runner is back from (b): an exec into a restarting container has nothing to run in.
      const back = await onVm(vm, ["sh", "-c", 'for i in $(seq 240); do [ "$(docker inspect -f "{{.State.Health.Status}}" "$1")" = healthy ] && exit 0; sleep 0.5; done; docker inspect -f "{{.State.Status}} {{.State.Health.Status}}" "$1"; exit 1', "sh", "btw-orbit-runner"]);
      expect(back.code, `orbit's runner did not come back healthy: ${back.stdout}${back.stderr}`).toBe(0);
      const abuse = (async () => {
        const fork = await onVm(vm, ["docker", "exec", "btw-orbit-runner", "node", "-e", "const { spawn } = require('child_process'); const kids = []; let failed = 0; for (let i = 0; i < 300; i++) { try { const c = spawn('sleep', ['6']); c.on('error', () => {}); if (c.pid) kids.push(c); else failed++; } catch { failed++; } } console.log('started=' + kids.length + ' failed=' + failed); setTimeout(() => { for (const k of kids) k.kill(); process.exit(0); }, 2000);"]);
        const fill = await onVm(vm, ["docker", "exec", "btw-orbit-runner", "sh", "-c", "dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1; dd if=/dev/zero of=/home/node/fill bs=1M count=1 2>&1 | tail -n 1; rm -f /tmp/fill"]);
        return { fork: `${fork.stdout}${fork.stderr} (exit ${fork.code})`, fill: `${fill.stdout}${fill.stderr}` };
      })();
      const duringAbuse = await sample(15);
      const abused = await abuse;
      console.log(`[hostile] beta /healthz through the proxy: before ${ms(before)}; during orbit's CPU spin ${ms(duringSpin)}; during its memory bomb ${ms(duringBomb)}; during its fork bomb and disk filler ${ms(duringAbuse)}; ${abused.fork.trim()}`);
      // the stated margin: beta's median stays within 3× its own plus 100 ms, and no request fails (sample checks each)
      for (const during of [duringSpin, duringBomb, duringAbuse]) expect(median(during)).toBeLessThanOrEqual(median(before) * 3 + 100);
      // the pids limit (128) stopped the fork bomb short of its 300
      const started = Number(/started=(\d+)/.exec(abused.fork)?.[1] ?? "-1");
      expect(started >= 0 && started < 300, abused.fork).toBe(true);
      // /tmp stops the filler at its 64 MiB (of the 200 asked); the root refuses any write
      expect(abused.fill).toMatch(/No space left on device[\s\S]*67108864 bytes[\s\S]*Read-only file system/);

      // 3. orbit recovers: its runner connects again and an honest Code node runs
      const ok = await runCode(api, "hostile: after", "return [{ json: { fine: 1 + 1 } }];");
      expect([ok.status, ok.json]).toEqual(["success", { fine: 2 }]);
    } finally {
      api.close();
    }
  });

  it("suspend answers 503 with the maintenance page; resume answers 200 again", async () => {
    expect((await btw(["tenant", "suspend", "orbit"])).code).toBe(0);
    const down = await viaProxy(vm, `orbit.${LAB_DOMAIN}`, "/");
    expect(down.status).toBe(503);
    expect(down.body.toLowerCase()).toContain("temporarily unavailable");
    expect(down.headers["retry-after"]).toBeDefined();
    // the other tenant is untouched
    expect((await viaProxy(vm, `beta.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
    const r = await btw(["tenant", "resume", "orbit"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await viaProxy(vm, `orbit.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
  });

  it("WF3 follows the plan: pro runs 8 times a week; set-plan starter brings it to Monday and Thursday 08:00 in the tenant's zone, no drift", async () => {
    const { tenantApi } = await import("../integration/backup/tenant-api.js");
    // the suspend/resume test just ran
    const wf3 = (): Promise<{ crons: string[]; timezone: string | undefined }> => onceN8nAnswers(() => wf3Once());
    const wf3Once = async () => {
      const api = await tenantApi(home, vm, "orbit", LAB_DOMAIN);
      try {
        const list = await api.api<{ data: Array<{ name: string; nodes: Array<{ type: string; parameters: { rule?: { interval?: Array<{ expression: string }> } } }>; settings: { timezone?: string } }> }>("GET", "/api/v1/workflows?limit=50");
        if (list.status !== 200) throw new Error(`list workflows: HTTP ${list.status}`);
        const w = list.json.data.find((x) => x.name === "WF3 Article generation")!;
        return { crons: w.nodes.find((n) => n.type === "n8n-nodes-base.scheduleTrigger")!.parameters.rule!.interval!.map((i) => i.expression), timezone: w.settings.timezone };
      } finally {
        api.close();
      }
    };
    expect(await wf3()).toEqual({ crons: ["0 8,14 * * 1", "0 8 * * 2,3,4,5,6,0"], timezone: "Europe/Paris" });
    expect((await btw(["tenant", "set-plan", "orbit", "starter"])).code).toBe(0);
    expect(await wf3()).toEqual({ crons: ["0 8 * * 1,4"], timezone: "Europe/Paris" });
    const status = await btw(["workflows", "status", "--tenant", "orbit", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).not.toMatch(/"drift"/);
    expect((await btw(["tenant", "set-plan", "orbit", "pro"])).code).toBe(0);
  });

  it("set-plan changes the running containers' limits in place", async () => {
    const limits = async (container = "btw-orbit-n8n") => (await onVm(vm, ["docker", "inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}}", container])).stdout.trim();
    const started = (await onVm(vm, ["docker", "inspect", "--format", "{{.State.StartedAt}}", "btw-orbit-n8n"])).stdout.trim();
    // memory, pids and reserved CPU (shares) as the default plans; the CPU cap as the lab's btw.lab.yml sets it for n8n
    expect(await limits()).toBe(`${1536 * 1024 * 1024} ${LAB_N8N_CPUS * 1e9} 512 512`);
    // the runner: 512 MiB and 128 pids in every default plan, n8n's CPU cap and share
    expect(await limits("btw-orbit-runner")).toBe(`${512 * 1024 * 1024} ${LAB_N8N_CPUS * 1e9} 128 512`);
    const r = await btw(["tenant", "set-plan", "orbit", "starter", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from: "pro", to: "starter", applied: "in-place" });
    expect(await limits()).toBe(`${768 * 1024 * 1024} ${LAB_N8N_CPUS * 1e9} 256 256`);
    expect(await limits("btw-orbit-runner")).toBe(`${512 * 1024 * 1024} ${LAB_N8N_CPUS * 1e9} 128 256`);
    expect((await onVm(vm, ["docker", "inspect", "--format", "{{.State.StartedAt}}", "btw-orbit-n8n"])).stdout.trim()).toBe(started);
    const env = (await onVm(vm, ["cat", "/opt/btw/tenants/orbit/.env"])).stdout;
    expect(env).toMatch(/^N8N_MEMORY=768m$/m);
    expect(env).toMatch(/^N8N_CPU_SHARES=256$/m);
  });

  it("queue mode (business, issue 24): set-plan adds the worker and its runner, boxed like n8n's; a webhook's Code node runs on the worker's runner and reads no secret; set-plan starter takes them away", async () => {
    const { tenantApi, tenantSecrets } = await import("../integration/backup/tenant-api.js");
    const { PROBE_CODE } = await import("./support/hostile.js");
    const up = await btw(["tenant", "set-plan", "orbit", "business", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ from: "starter", to: "business" });
    const states = async () => (await onVm(vm, ["docker", "ps", "-a", "--format", "{{.Names}} {{.State}}", "--filter", "label=com.docker.compose.project=btw-orbit"])).stdout.trim().split("\n").sort();
    expect(await states()).toEqual(["n8n", "postgres", "redis", "runner", "worker", "worker-runner"].map((s) => `btw-orbit-${s} running`));
    for (const c of ["btw-orbit-worker", "btw-orbit-worker-runner"]) {
      const [health, user, readOnly, nnp] = (await onVm(vm, ["docker", "inspect", "--format", "{{.State.Health.Status}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.SecurityOpt}}", c])).stdout.trim().split(" ");
      expect([c, health, user, readOnly, nnp], c).toEqual([c, "healthy", "1000:1000", "true", expect.stringContaining("no-new-privileges")]);
    }
    const environ = (await onVm(vm, ["docker", "exec", "btw-orbit-worker-runner", "cat", "/proc/1/environ"])).stdout;
    expect(environ).toContain("N8N_RUNNERS_TASK_BROKER_URI=http://worker:5679");
    expect(environ).not.toContain("N8N_RUNNERS_AUTH_TOKEN");

    // production executions go through the queue: a webhook answered by its last node, a Code
    // node that runs the sandbox probes, on the worker's runner
    const secrets = await tenantSecrets(home, "orbit");
    const secretValues = ["N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_API_KEY"].map((k) => secrets.get(k)!).filter(Boolean);
    const api = await tenantApi(home, vm, "orbit", LAB_DOMAIN);
    const path = `queue-probe-${Date.now()}`;
    try {
      const wf = await api.api<{ id: string }>("POST", "/api/v1/workflows", {
        name: "queue mode: probes on the worker",
        nodes: [
          { id: "w", name: "Hook", type: "n8n-nodes-base.webhook", typeVersion: 2, position: [0, 0], webhookId: crypto.randomUUID(), parameters: { httpMethod: "GET", path, responseMode: "lastNode" } },
          { id: "c", name: "Code", type: "n8n-nodes-base.code", typeVersion: 2, position: [200, 0], parameters: { jsCode: PROBE_CODE } },
        ],
        connections: { Hook: { main: [[{ node: "Code", type: "main", index: 0 }]] } },
        settings: { executionOrder: "v1" },
      });
      expect(wf.status, JSON.stringify(wf.json).slice(0, 300)).toBe(200);
      const on = await api.api("POST", `/api/v1/workflows/${wf.json.id}/activate`);
      expect(on.status, JSON.stringify(on.json).slice(0, 300)).toBe(200);
      const hook = await viaProxy(vm, `orbit.${LAB_DOMAIN}`, `/webhook/${path}`);
      expect(hook.status, hook.body.slice(0, 300)).toBe(200);
      const found = JSON.parse(hook.body) as Record<string, { ok: boolean }>;
      for (const v of secretValues) expect(hook.body.includes(v), "a secret reached the Code node on the worker").toBe(false);
      for (const name of ["require fs /proc/1/environ", "require child_process", "require net", "Function from a string"]) expect({ name, ok: found[name]?.ok }).toEqual({ name, ok: false });
      // it was the worker that ran it (n8n's job processor logs each execution it starts)
      const logs = await onVm(vm, ["docker", "logs", "btw-orbit-worker"]);
      expect(logs.stdout + logs.stderr).toMatch(/Worker started execution \d+ \(job \d+\)/);
    } finally {
      api.close();
    }

    const down = await btw(["tenant", "set-plan", "orbit", "starter", "--json"]);
    expect(down.code, down.stderr).toBe(0);
    expect(await states()).toEqual(["n8n", "postgres", "redis", "runner"].map((s) => `btw-orbit-${s} running`));
    expect((await viaProxy(vm, `orbit.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
  });

  it("delete without --purge takes beta out of service and keeps its data: containers and route gone; volumes, files, secrets kept; the row 'deleting'", async () => {
    // what beta's database holds: the purge's final backup below reads it back from the kept volume
    const count = await onVm(vm, ["docker", "exec", "btw-beta-postgres", "psql", "-U", "n8n", "-d", "n8n", "-XAtc", "select count(*) from workflow_entity"]);
    expect(count.code, count.stderr).toBe(0);
    betaWorkflows = Number(count.stdout.trim());
    expect(betaWorkflows).toBeGreaterThanOrEqual(3);
    const r = await btw(["tenant", "delete", "beta", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tenant: { slug: "beta", status: "deleting" }, purge: false, finalBackup: null });
    expect((await onVm(vm, ["docker", "ps", "-a", "-q", "--filter", "label=btw.tenant=beta"])).stdout.trim(), "containers").toBe("");
    const volumes = (await onVm(vm, ["docker", "volume", "ls", "-q", "--filter", "label=btw.tenant=beta"])).stdout.trim().split("\n").sort();
    expect(volumes).toEqual(expect.arrayContaining(["btw-beta-n8ndata", "btw-beta-pgdata"]));
    expect((await onVm(vm, ["test", "-s", "/opt/btw/tenants/beta/.env"])).code, "beta's .env kept").toBe(0);
    expect((await viaProxy(vm, `beta.${LAB_DOMAIN}`, "/healthz")).status).toBe(404);
    expect((await viaProxy(vm, `orbit.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
    const show = JSON.parse((await btw(["tenant", "show", "beta", "--json"])).stdout) as { tenant: { status: string }; secrets: string[] };
    expect(show.tenant.status).toBe("deleting");
    expect(show.secrets).toEqual(expect.arrayContaining(["POSTGRES_PASSWORD", "N8N_ENCRYPTION_KEY"]));
    const list = JSON.parse((await btw(["tenant", "list", "--json"])).stdout) as { tenants: { slug: string; status: string }[] };
    expect(list.tenants.map((t) => [t.slug, t.status]).sort()).toEqual([["beta", "deleting"], ["orbit", "active"]]);
    // the name stays reserved
    const again = await btw(["tenant", "create", "beta", "--plan", "starter", "--server", vm.name, "--dry-run"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/tenant 'beta' already exists \(deleting\)/);
  });

  it("delete --purge of the tenant taken out of service: a final backup of its kept data, then no container, volume, network, route or live row; audit rows stay", async () => {
    const r = await btw(["tenant", "delete", "beta", "--purge", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const finalBackup = (JSON.parse(r.stdout) as { finalBackup: string | null }).finalBackup;
    expect(finalBackup, "the kept database was started alone and backed up").not.toBeNull();
    const { backups } = JSON.parse((await btw(["backup", "list", "--tenant", "beta", "--json"])).stdout) as { backups: Array<{ id: string; status: string; reason: string; manifest: { counts?: { workflows: number | null } } }> };
    const b = backups.find((x) => x.id === finalBackup);
    expect(b, JSON.stringify(backups.map((x) => x.id))).toMatchObject({ status: "done", reason: "final", manifest: { counts: { workflows: betaWorkflows } } });
    for (const kind of [["ps", "-a"], ["volume", "ls"], ["network", "ls"]]) {
      const x = await onVm(vm, ["docker", ...kind, "-q", "--filter", "label=btw.tenant=beta"]);
      expect(x.stdout.trim(), kind.join(" ")).toBe("");
    }
    expect((await onVm(vm, ["test", "-e", "/opt/btw/tenants/beta"])).code).not.toBe(0);
    expect((await viaProxy(vm, `beta.${LAB_DOMAIN}`, "/healthz")).status).toBe(404);
    const list = JSON.parse((await btw(["tenant", "list", "--json"])).stdout) as { tenants: { slug: string }[] };
    expect(list.tenants.map((t) => t.slug)).toEqual(["orbit"]);
    const audit = JSON.parse((await btw(["audit", "--json"])).stdout) as { entries: { action: string; target: string }[] };
    expect(audit.entries.filter((e) => e.target === "beta").map((e) => e.action)).toEqual(["tenant.create", "tenant.delete", "tenant.purge"]);
  });
});
