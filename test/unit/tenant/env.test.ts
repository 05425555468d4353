import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  TENANT_ENV_KEYS,
  TENANT_ENV_SECRET_KEYS,
  formatCpus,
  formatMemory,
  renderTenantEnv,
  runnersAuthToken,
  splitTenantSubnet,
  tenantEnvValues,
  timezoneProblem,
} from "../../../src/core/tenant/env.js";
import { UsageError } from "../../../src/errors.js";
import { SECRETS, envInput, plan } from "./fixtures.js";

describe("renderTenantEnv", () => {
  it("renders a starter tenant (regular mode, HTTPS) in a fixed key order", () => {
    expect(renderTenantEnv(envInput())).toBe(
      [
        "# btw tenant acme: values for compose.yml in this directory.",
        "# Written by btw from its state; edits are overwritten.",
        "",
        "# Compose project (also lets an operator run plain `docker compose` in this directory)",
        "COMPOSE_PROJECT_NAME=btw-acme",
        "COMPOSE_PROFILES=",
        "",
        "# Identity and addressing",
        "TENANT=acme",
        "TENANT_SUBNET=10.220.0.64/26",
        "INTERNAL_SUBNET=10.220.0.64/27",
        "EDGE_SUBNET=10.220.0.96/27",
        "",
        "# Images",
        "N8N_IMAGE=docker.n8n.io/n8nio/n8n:2.8.4",
        "POSTGRES_IMAGE=postgres:17.7-bookworm",
        "REDIS_IMAGE=redis:7.4.7-bookworm",
        "",
        "# Postgres data volume (a new major gets a new one: btw upgrade postgres)",
        "PGDATA_VOLUME=btw-acme-pgdata",
        "",
        "# n8n",
        "N8N_HOST=acme.example.com",
        "N8N_PROTOCOL=https",
        "N8N_EDITOR_BASE_URL=https://acme.example.com/",
        "WEBHOOK_URL=https://acme.example.com/",
        "N8N_SECURE_COOKIE=true",
        "GENERIC_TIMEZONE=Europe/Paris",
        "EXECUTIONS_MODE=regular",
        "N8N_DEFAULT_BINARY_DATA_MODE=filesystem",
        "EXECUTIONS_DATA_MAX_AGE=336",
        "EXECUTIONS_DATA_PRUNE_MAX_COUNT=10000",
        "",
        "# Plan limits per service: cpus (cap), cpu shares (reservation when the server is busy), memory, pids",
        "N8N_CPUS=1",
        "N8N_CPU_SHARES=256",
        "N8N_MEMORY=768m",
        "N8N_PIDS=256",
        "WORKER_CPUS=1",
        "WORKER_CPU_SHARES=256",
        "WORKER_MEMORY=768m",
        "WORKER_PIDS=256",
        "POSTGRES_CPUS=0.5",
        "POSTGRES_CPU_SHARES=512",
        "POSTGRES_MEMORY=256m",
        "POSTGRES_PIDS=200",
        "REDIS_CPUS=0.25",
        "REDIS_CPU_SHARES=256",
        "REDIS_MEMORY=128m",
        "REDIS_PIDS=64",
        "REDIS_MAXMEMORY=96mb",
        "RUNNER_CPUS=1",
        "RUNNER_CPU_SHARES=256",
        "RUNNER_MEMORY=512m",
        "RUNNER_PIDS=128",
        "RUNNER_HEAP_MB=384",
        "",
        "# Ownership (container labels) and quarantine (scratch stacks: no egress)",
        "BTW_STATE=",
        "BTW_SCRATCH=0",
        "BTW_CREATED_AT=",
        "BTW_OWNER=",
        "EDGE_INTERNAL=false",
        "",
        "# Secrets: this file is mode 0600",
        `POSTGRES_PASSWORD=${SECRETS.postgresPassword}`,
        `REDIS_PASSWORD=${SECRETS.redisPassword}`,
        `N8N_ENCRYPTION_KEY=${SECRETS.encryptionKey}`,
        `N8N_RUNNERS_AUTH_TOKEN=${createHmac("sha256", SECRETS.encryptionKey).update("btw/n8n-runners-auth-token/v1").digest("base64url")}`,
        "",
      ].join("\n"),
    );
  });

  it("has one line per key, in TENANT_ENV_KEYS order", () => {
    const keys = renderTenantEnv(envInput())
      .split("\n")
      .filter((l) => /^[A-Z]/.test(l))
      .map((l) => l.slice(0, l.indexOf("=")));
    expect(keys).toEqual(TENANT_ENV_KEYS);
  });

  it("is deterministic", () => {
    expect(renderTenantEnv(envInput())).toBe(renderTenantEnv(envInput()));
  });
});

describe("tenantEnvValues", () => {
  it("queue-mode plans get the queue profile, queue mode, database binary data and the worker's own limits", () => {
    const v = tenantEnvValues(envInput({ plan: plan("business") }));
    expect({
      profiles: v.COMPOSE_PROFILES,
      mode: v.EXECUTIONS_MODE,
      binary: v.N8N_DEFAULT_BINARY_DATA_MODE,
      worker: [v.WORKER_CPUS, v.WORKER_CPU_SHARES, v.WORKER_MEMORY, v.WORKER_PIDS],
      n8n: [v.N8N_CPUS, v.N8N_CPU_SHARES, v.N8N_MEMORY, v.N8N_PIDS],
      postgres: [v.POSTGRES_CPUS, v.POSTGRES_CPU_SHARES, v.POSTGRES_MEMORY, v.POSTGRES_PIDS],
      redis: [v.REDIS_CPUS, v.REDIS_CPU_SHARES, v.REDIS_MEMORY, v.REDIS_PIDS, v.REDIS_MAXMEMORY],
    }).toEqual({
      profiles: "queue",
      mode: "queue",
      binary: "database",
      worker: ["2", "1536", "2048m", "512"],
      n8n: ["2", "512", "1536m", "512"],
      postgres: ["2", "2048", "1024m", "400"],
      redis: ["1", "1024", "512m", "128", "384mb"],
    });
  });

  it("a queue-mode plan without worker limits gives the worker n8n's", () => {
    const p = { ...plan("pro"), queueMode: true, worker: undefined };
    const v = tenantEnvValues(envInput({ plan: p }));
    expect([v.COMPOSE_PROFILES, v.WORKER_CPUS, v.WORKER_CPU_SHARES, v.WORKER_MEMORY, v.WORKER_PIDS]).toEqual(["queue", "2", "512", "1536m", "512"]);
  });

  it("tls off: plain-HTTP URLs and a non-secure cookie", () => {
    const v = tenantEnvValues(envInput({ tls: "off", domain: "lab.test" }));
    expect([v.N8N_HOST, v.N8N_PROTOCOL, v.WEBHOOK_URL, v.N8N_EDITOR_BASE_URL, v.N8N_SECURE_COOKIE]).toEqual([
      "acme.lab.test",
      "http",
      "http://acme.lab.test/",
      "http://acme.lab.test/",
      "false",
    ]);
  });

  it("takes pruning overrides", () => {
    const v = tenantEnvValues(envInput({ pruning: { maxAgeHours: 72, maxCount: 2500 } }));
    expect([v.EXECUTIONS_DATA_MAX_AGE, v.EXECUTIONS_DATA_PRUNE_MAX_COUNT]).toEqual(["72", "2500"]);
    expect(() => tenantEnvValues(envInput({ pruning: { maxAgeHours: 0, maxCount: 1 } }))).toThrow(UsageError);
  });

  it("gives each tenant its own runners' token, derived from its encryption key and revealing nothing of it", () => {
    const a = runnersAuthToken(SECRETS.encryptionKey);
    const b = runnersAuthToken(`${SECRETS.encryptionKey}x`);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).toBe(runnersAuthToken(SECRETS.encryptionKey));
    expect(a).not.toContain(SECRETS.encryptionKey.slice(0, 8));
  });

  it("a /28 tenant block holds a queue-mode tenant: internal Postgres, Redis, n8n, worker; edge n8n, proxy, worker, both runners (5 hosts each half)", () => {
    expect(tenantEnvValues(envInput({ plan: plan("business"), subnet: "10.220.0.16/28" }))).toMatchObject({ INTERNAL_SUBNET: "10.220.0.16/29", EDGE_SUBNET: "10.220.0.24/29" });
  });

  it("names the secret keys", () => {
    expect(TENANT_ENV_SECRET_KEYS).toEqual(["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_ENCRYPTION_KEY", "N8N_RUNNERS_AUTH_TOKEN"]);
  });

  it.each([
    [{ slug: "Acme" }, "invalid-tenant-name"],
    [{ slug: "a;b" }, "invalid-tenant-name"],
    [{ domain: "Example.com" }, "invalid-domain"],
    [{ domain: "example.com\n" }, "invalid-domain"],
    [{ timezone: "Mars/Olympus" }, "invalid-timezone"],
    [{ timezone: "Europe/Paris\nX=1" }, "invalid-timezone"],
    [{ subnet: "10.220.0.65/26" }, "invalid-subnet"],
    [{ subnet: "10.220.0.64/29" }, "invalid-subnet"],
    [{ secrets: { ...SECRETS, redisPassword: "short" } }, "invalid-secret"],
    [{ secrets: { ...SECRETS, postgresPassword: `${"a".repeat(20)}"$x` } }, "invalid-secret"],
  ] as const)("refuses %j", (override, code) => {
    expect(() => tenantEnvValues(envInput(override))).toThrow(expect.objectContaining({ code }));
  });

  it("never echoes a rejected secret", () => {
    const bad = `${"s".repeat(20)} secret-value!`;
    try {
      tenantEnvValues(envInput({ secrets: { ...SECRETS, encryptionKey: bad } }));
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe("tenant secret encryptionKey must be 16–128 characters of A–Z a–z 0–9 _ -");
    }
  });
});

describe("splitTenantSubnet", () => {
  it("gives internal the lower half and edge the upper half", () => {
    expect(splitTenantSubnet("10.220.0.64/26")).toEqual({ internal: "10.220.0.64/27", edge: "10.220.0.96/27" });
    expect(splitTenantSubnet("10.220.3.0/24")).toEqual({ internal: "10.220.3.0/25", edge: "10.220.3.128/25" });
    expect(splitTenantSubnet("10.220.0.16/28")).toEqual({ internal: "10.220.0.16/29", edge: "10.220.0.24/29" });
  });

  it("refuses a block too small to halve into two usable /29s", () => {
    expect(() => splitTenantSubnet("10.220.0.8/29")).toThrow("tenant subnet 10.220.0.8/29 is too small: a tenant needs at least a /28");
  });
});

describe("formatting", () => {
  it.each([
    [0.5, "0.5"],
    [1, "1"],
    [0.25, "0.25"],
    [1.5, "1.5"],
    [0.1 + 0.2, "0.3"],
  ])("cpus %d → %s", (n, s) => {
    expect(formatCpus(n)).toBe(s);
  });

  it("memory in MB → Docker's m suffix", () => {
    expect(formatMemory(768)).toBe("768m");
    expect(() => formatMemory(1.5)).toThrow(UsageError);
    expect(() => formatCpus(0)).toThrow(UsageError);
  });

  it("timezoneProblem accepts IANA names and refuses others", () => {
    expect(timezoneProblem("Europe/Paris")).toBeNull();
    expect(timezoneProblem("America/Argentina/Buenos_Aires")).toBeNull();
    expect(timezoneProblem("UTC")).toBeNull();
    expect(timezoneProblem("Mars/Olympus")).toBe('unknown time zone "Mars/Olympus"; use an IANA name like Europe/Paris');
    expect(timezoneProblem("$(id)")).toBe('time zone "$(id)" is not an IANA name like Europe/Paris');
  });
});

describe("renderTenantEnv: ownership and quarantine", () => {
  const base = () => envInput();
  it("carries the state's uuid; a scratch stack gets its marks and an internal edge network", () => {
    const id = "0b6f5a38-3f5e-4d7c-9a51-2f4d7c1e9b10";
    const v = tenantEnvValues({ ...base(), stateId: id, scratch: { createdAt: "2026-12-01T14:00:00.000Z", owner: "laptop:4242" } });
    expect([v.BTW_STATE, v.BTW_SCRATCH, v.BTW_CREATED_AT, v.BTW_OWNER, v.EDGE_INTERNAL]).toEqual([id, "1", "2026-12-01T14:00:00.000Z", "laptop:4242", "true"]);
    const t = tenantEnvValues({ ...base(), stateId: id });
    expect([t.BTW_SCRATCH, t.BTW_CREATED_AT, t.BTW_OWNER, t.EDGE_INTERNAL]).toEqual(["0", "", "", "false"]);
  });
  it("refuses a state id or scratch marks that are not what they claim", () => {
    expect(() => tenantEnvValues({ ...base(), stateId: "x\nEVIL=1" })).toThrow(/not a uuid/);
    expect(() => tenantEnvValues({ ...base(), scratch: { createdAt: "yesterday", owner: "h:1" } })).toThrow(/ISO/);
    expect(() => tenantEnvValues({ ...base(), scratch: { createdAt: "2026-12-01T14:00:00Z", owner: "h 1" } })).toThrow(/host:pid/);
  });
});
