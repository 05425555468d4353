// The tenant compose file as real Compose resolves it with a rendered .env: limits, networks,
// profiles, no ports — and .env quoting checked against Compose's own parser. Runs when a
// Compose v2 is available (see external-tools.ts); CI must provide one for it to count.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderEnvFile } from "../../../src/core/tenant/dotenv.js";
import { renderTenantEnv, type TenantEnvInput } from "../../../src/core/tenant/env.js";
import { SECRETS, envInput, plan } from "./fixtures.js";
import { findCompose, run } from "./external-tools.js";

const TEMPLATE = join(import.meta.dirname, "../../../templates/tenant/compose.yml");
const compose = findCompose();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function resolved(input: TenantEnvInput, profiles: string[]): any {
  const dir = mkdtempSync(join(tmpdir(), "btw-compose-"));
  dirs.push(dir);
  copyFileSync(TEMPLATE, join(dir, "compose.yml"));
  writeFileSync(join(dir, ".env"), renderTenantEnv(input), { mode: 0o600 });
  const argv = [...(compose as string[]), "-p", `btw-${input.slug}`, "--project-directory", dir, "-f", join(dir, "compose.yml"), "--env-file", join(dir, ".env")];
  const r = run([...argv, ...profiles.flatMap((p) => ["--profile", p]), "config", "--format", "json"]);
  if (r.status !== 0) throw new Error(`compose config failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("tenant compose.yml through real Compose", () => {
  beforeAll(() => {
    // never skipped: `npm test` extracts the tool from the lab images (scripts/tool-binaries.sh)
    if (compose === null) throw new Error("Compose v2 (BTW_COMPOSE_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
  });
  it("starter (regular mode): four services (n8n's runner its own) with the plan's limits, no worker", () => {
    const cfg = resolved(envInput(), []);
    expect(cfg.name).toBe("btw-acme");
    expect(Object.keys(cfg.services).sort()).toEqual(["n8n", "postgres", "redis", "runner"]);
    const limits = Object.fromEntries(
      Object.entries(cfg.services).map(([name, svc]: [string, any]) => [name, [svc.deploy.resources.limits, svc.memswap_limit, svc.cpu_shares]]),
    );
    const mb = (n: number): string => String(n * 1024 * 1024);
    expect(limits).toEqual({
      // a cap to boot on, a share by reservation when the server is busy
      n8n: [{ cpus: 1, memory: mb(768), pids: 256 }, mb(768), 256],
      postgres: [{ cpus: 0.5, memory: mb(256), pids: 200 }, mb(256), 512],
      redis: [{ cpus: 0.25, memory: mb(128), pids: 64 }, mb(128), 256],
      // the default runner: n8n's CPU figures, 512 MB (JS heap 384)
      runner: [{ cpus: 1, memory: mb(512), pids: 128 }, mb(512), 256],
    });
    expect(cfg.services.runner.environment.NODE_OPTIONS).toBe("--max-old-space-size=384");
    expect(cfg.services.n8n.environment.EXECUTIONS_MODE).toBe("regular");
  });

  it("hardened (issue 24): every capability dropped, each service adding back only what its entrypoint needs; n8n and the worker as uid 1000 on a read-only root with small tmpfs; no-new-privileges everywhere, seccomp left at Docker's default", () => {
    const cfg = resolved(envInput({ plan: plan("business") }), []);
    const view = Object.fromEntries(
      Object.entries(cfg.services).map(([name, svc]: [string, any]) => [
        name,
        { user: svc.user ?? null, cap_drop: svc.cap_drop, cap_add: svc.cap_add ?? [], read_only: svc.read_only ?? false, tmpfs: svc.tmpfs ?? [], security_opt: svc.security_opt },
      ]),
    );
    const n8nLike = {
      user: "1000:1000",
      cap_drop: ["ALL"],
      cap_add: [],
      read_only: true,
      tmpfs: ["/tmp:size=64m,mode=1777", "/home/node/.cache:size=256m,uid=1000,gid=1000,mode=0700"],
      security_opt: ["no-new-privileges:true"],
    };
    expect(view).toEqual({
      n8n: n8nLike,
      // and its settings file on a tmpfs of its own: it has no data volume (found on the lab: the
      // read-only root refused it, EROFS, and the worker never started)
      worker: { ...n8nLike, tmpfs: [...n8nLike.tmpfs, "/home/node/.n8n:size=16m,uid=1000,gid=1000,mode=0700"] },
      runner: { ...n8nLike, tmpfs: ["/tmp:size=64m,mode=1777"] },
      "worker-runner": { ...n8nLike, tmpfs: ["/tmp:size=64m,mode=1777"] },
      postgres: { user: null, cap_drop: ["ALL"], cap_add: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"], read_only: true, tmpfs: ["/var/run/postgresql:size=1m", "/tmp:size=16m,mode=1777"], security_opt: ["no-new-privileges:true"] },
      // not read-only: Compose copies the config file in before the start (see the template)
      redis: { user: null, cap_drop: ["ALL"], cap_add: ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"], read_only: false, tmpfs: [], security_opt: ["no-new-privileges:true"] },
    });
    for (const svc of Object.values(cfg.services) as any[]) {
      expect(svc.privileged ?? false).toBe(false);
      expect(JSON.stringify(svc.security_opt)).not.toMatch(/seccomp|apparmor/);
    }
  });

  it("the worker exists only with the queue profile: --profile queue, or COMPOSE_PROFILES in a queue plan's .env", () => {
    expect(Object.keys(resolved(envInput(), ["queue"]).services).sort()).toEqual(["n8n", "postgres", "redis", "runner", "worker", "worker-runner"]);
    // A business .env enables the profile itself, so a plain `docker compose up` by an
    // operator in the tenant's directory runs the same stack btw does.
    expect(Object.keys(resolved(envInput({ plan: plan("business") }), []).services).sort()).toEqual(["n8n", "postgres", "redis", "runner", "worker", "worker-runner"]);
  });

  it("Postgres's data volume: the recorded one (after a major upgrade), else btw-<slug>-pgdata, also for an .env older than PGDATA_VOLUME", () => {
    expect(resolved(envInput(), []).volumes.pgdata.name).toBe("btw-acme-pgdata");
    expect(resolved(envInput({ pgdataVolume: "btw-acme-pgdata-pg17" }), []).volumes.pgdata.name).toBe("btw-acme-pgdata-pg17");
    const old = renderTenantEnv(envInput()).split("\n").filter((l) => !l.startsWith("PGDATA_VOLUME=")).join("\n");
    const dir = mkdtempSync(join(tmpdir(), "btw-compose-"));
    dirs.push(dir);
    copyFileSync(TEMPLATE, join(dir, "compose.yml"));
    writeFileSync(join(dir, ".env"), old, { mode: 0o600 });
    const r = run([...(compose as string[]), "-p", "btw-acme", "--project-directory", dir, "-f", join(dir, "compose.yml"), "--env-file", join(dir, ".env"), "config", "--format", "json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).volumes.pgdata.name).toBe("btw-acme-pgdata");
  });

  it("business (queue mode): the worker's own limits, command and environment", () => {
    const input = envInput({ plan: plan("business") });
    const cfg = resolved(input, ["queue"]);
    expect(Object.keys(cfg.services).sort()).toEqual(["n8n", "postgres", "redis", "runner", "worker", "worker-runner"]);
    expect(cfg.services.worker.deploy.resources.limits).toEqual({ cpus: 2, memory: String(2048 * 1024 * 1024), pids: 512 });
    expect(cfg.services.worker.cpu_shares).toBe(1536);
    expect(cfg.services.worker.command).toEqual(["worker"]);
    expect(cfg.services.worker.environment.EXECUTIONS_MODE).toBe("queue");
    expect(cfg.services.worker.environment.N8N_ENCRYPTION_KEY).toBe(SECRETS.encryptionKey);
  });

  it("no service publishes a port; networks are the tenant's halves, internal has no route out", () => {
    const cfg = resolved(envInput({ plan: plan("business") }), ["queue"]);
    for (const svc of Object.values(cfg.services) as any[]) expect(svc.ports).toBeUndefined();
    expect(cfg.networks).toEqual({
      internal: { name: "btw-acme-internal", internal: true, ipam: { config: [{ subnet: "10.220.0.64/27" }] }, labels: { "btw.tenant": "acme" } },
      edge: { name: "btw-acme-edge", ipam: { config: [{ subnet: "10.220.0.96/27" }] }, labels: { "btw.tenant": "acme" } },
    });
    expect(cfg.services.n8n.networks).toEqual({ internal: {}, edge: { aliases: ["n8n-acme"] } });
  });

  it("secrets reach containers as environment and the Redis config file, never argv", () => {
    const cfg = resolved(envInput(), []);
    expect(cfg.services.postgres.environment.POSTGRES_PASSWORD).toBe(SECRETS.postgresPassword);
    expect(cfg.services.n8n.environment.DB_POSTGRESDB_PASSWORD).toBe(SECRETS.postgresPassword);
    expect(cfg.services.redis.environment.REDISCLI_AUTH).toBe(SECRETS.redisPassword);
    expect(cfg.configs.redis_conf.content).toContain(`requirepass "${SECRETS.redisPassword}"\n`);
    expect(cfg.configs.redis_conf.content).toContain("maxmemory 96mb\n");
    const argv = JSON.stringify(Object.values(cfg.services).map((s: any) => [s.command, s.entrypoint, s.healthcheck?.test]));
    for (const secret of Object.values(SECRETS)) expect(argv).not.toContain(secret);
  });

  it("a missing .env key stops Compose with the key's name", () => {
    const dir = mkdtempSync(join(tmpdir(), "btw-compose-"));
    dirs.push(dir);
    copyFileSync(TEMPLATE, join(dir, "compose.yml"));
    writeFileSync(join(dir, ".env"), renderTenantEnv(envInput()).replace(/^N8N_PIDS=.*\n/m, ""));
    const r = run([...(compose as string[]), "-p", "btw-acme", "--project-directory", dir, "-f", join(dir, "compose.yml"), "--env-file", join(dir, ".env"), "config", "--quiet"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("N8N_PIDS missing from .env");
  });

  it("quoteEnvValue round-trips awkward values through Compose's .env parser", () => {
    const values = [
      "plain", "", "a b", "a #b", "#x", "$HOME", "${X:-y}", "$$", "it's", 'say "hi"', "back\\slash", "ends\\", "'\"\\$",
      "two\nlines", "tab\there", "trailing ", " leading", "ünïcode", "a=b", "\\n literally", "x\\", "\\$X",
    ];
    const dir = mkdtempSync(join(tmpdir(), "btw-dotenv-"));
    dirs.push(dir);
    const keys = values.map((_, i) => `V${i}`);
    writeFileSync(
      join(dir, "compose.yml"),
      `services:\n  probe:\n    image: busybox:1\n    environment:\n${keys.map((k) => `      ${k}: \${${k}}\n`).join("")}`,
    );
    writeFileSync(join(dir, ".env"), renderEnvFile([], [{ comment: "probe", entries: keys.map((k, i) => [k, values[i] as string] as const) }]));
    const r = run([...(compose as string[]), "-p", "probe", "--project-directory", dir, "-f", join(dir, "compose.yml"), "--env-file", join(dir, ".env"), "config", "--format", "json"]);
    expect(r.stderr).toBe("");
    const env = JSON.parse(r.stdout).services.probe.environment;
    // `config` prints a Compose file, in which a literal `$` is written `$$`.
    expect(keys.map((k) => (env[k] as string).replaceAll("$$", "$"))).toEqual(values);
  });
});
