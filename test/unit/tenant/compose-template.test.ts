// Static checks of templates/tenant/compose.yml (no Compose needed): the rules every tenant
// stack must follow, and agreement with the .env keys and layout names.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { TENANT_ENV_KEYS } from "../../../src/core/tenant/env.js";
import { TENANT_SERVICES, tenantLayout } from "../../../src/core/tenant/layout.js";

const TEXT = readFileSync(join(import.meta.dirname, "../../../templates/tenant/compose.yml"), "utf8");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const doc = parse(TEXT, { merge: true }) as any;
const services = doc.services as Record<string, any>;

/** Substitute ${VAR…} as Compose would for a tenant named acme (just the TENANT variable). */
const asAcme = (s: string): string => s.replace(/\$\{TENANT(:\?[^}]*)?\}/g, "acme");

describe("templates/tenant/compose.yml", () => {
  it("defines exactly the layout's services", () => {
    expect(Object.keys(services).sort()).toEqual([...TENANT_SERVICES].sort());
  });

  it("references exactly the .env keys it needs (COMPOSE_* and TENANT_SUBNET are for Compose and people)", () => {
    // Comments aside; `$${X}` is an escaped dollar the container's shell expands, not Compose.
    const code = TEXT.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
    const used = new Set([...code.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const unusedByTemplate = ["COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "TENANT_SUBNET"];
    expect([...used].sort()).toEqual(TENANT_ENV_KEYS.filter((k) => !unusedByTemplate.includes(k)).sort());
  });

  it("publishes no port anywhere", () => {
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.ports, svc.expose, svc.network_mode]).toEqual([name, undefined, undefined, undefined]);
    }
    expect(TEXT).not.toMatch(/^\s*ports:/m);
  });

  it.each(TENANT_SERVICES)("%s: limits, restart policy, health check, log rotation, no-new-privileges", (name) => {
    const svc = services[name];
    // both runners take the plan's runner limits
    const prefix = name.endsWith("runner") ? "RUNNER" : name.toUpperCase();
    expect({
      limits: svc.deploy.resources.limits,
      memswap: svc.memswap_limit,
      restart: svc.restart,
      security: svc.security_opt,
      logging: svc.logging,
      healthcheck: Array.isArray(svc.healthcheck.test) && svc.healthcheck.test.length > 1,
    }).toEqual({
      limits: {
        cpus: `\${${prefix}_CPUS:?${prefix}_CPUS missing from .env}`,
        memory: `\${${prefix}_MEMORY:?${prefix}_MEMORY missing from .env}`,
        pids: `\${${prefix}_PIDS:?${prefix}_PIDS missing from .env}`,
      },
      memswap: `\${${prefix}_MEMORY}`,
      restart: "unless-stopped",
      security: ["no-new-privileges:true"],
      logging: { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } },
      healthcheck: true,
    });
  });

  it("uses the layout's container, network, volume names and n8n's edge alias", () => {
    const l = tenantLayout("acme");
    for (const name of TENANT_SERVICES) expect(asAcme(services[name].container_name)).toBe(l.containers[name]);
    expect(asAcme(doc.networks.internal.name)).toBe(l.networks.internal);
    expect(asAcme(doc.networks.edge.name)).toBe(l.networks.edge);
    // PGDATA_VOLUME (the state's, after a Postgres upgrade) or, for older .env files, the layout's
    expect(asAcme(doc.volumes.pgdata.name)).toBe(`\${PGDATA_VOLUME:-${l.volumes.pgdata}}`);
    expect(asAcme(doc.volumes.n8ndata.name)).toBe(l.volumes.n8ndata);
    expect(asAcme(doc.volumes.redisdata.name)).toBe(l.volumes.redisdata);
    expect(services.n8n.networks.edge.aliases.map(asAcme)).toEqual([l.edgeAlias]);
  });

  it("internal network has no route out; edge neither for a scratch stack; n8n, the worker and their runners join edge, the runners nothing else", () => {
    expect(doc.networks.internal.internal).toBe(true);
    expect(doc.networks.edge.internal).toBe("${EDGE_INTERNAL:-false}");
    const joins = (svc: any): string[] => (Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks)).sort();
    expect(Object.fromEntries(TENANT_SERVICES.map((s) => [s, joins(services[s])]))).toEqual({
      postgres: ["internal"],
      redis: ["internal"],
      n8n: ["edge", "internal"],
      worker: ["edge", "internal"],
      // the customer's code: its n8n's task broker and the Internet, not Postgres or Redis
      runner: ["edge"],
      "worker-runner": ["edge"],
    });
  });

  it("labels containers (only: volume and network labels must never change) with the owning state and scratch marks", () => {
    for (const name of TENANT_SERVICES) {
      expect([name, services[name].labels]).toEqual([
        name,
        {
          "btw.state": "${BTW_STATE:-}",
          "btw.scratch": "${BTW_SCRATCH:-0}",
          "btw.created-at": "${BTW_CREATED_AT:-}",
          "btw.owner": "${BTW_OWNER:-}",
          "btw.tenant": "${TENANT}",
          "btw.service": name,
        },
      ]);
    }
    for (const x of [...Object.values(doc.networks), ...Object.values(doc.volumes)] as any[]) expect(Object.keys(x.labels)).toEqual(["btw.tenant"]);
  });

  it("labels every container, network and volume with btw.tenant", () => {
    for (const name of TENANT_SERVICES) expect(services[name].labels["btw.tenant"]).toBe("${TENANT}");
    for (const net of Object.values(doc.networks) as any[]) expect(net.labels["btw.tenant"]).toBe("${TENANT}");
    for (const vol of Object.values(doc.volumes) as any[]) expect(vol.labels["btw.tenant"]).toBe("${TENANT}");
  });

  it("only the worker and its runner are behind the queue profile, and the worker runs `worker`", () => {
    expect(Object.fromEntries(TENANT_SERVICES.map((s) => [s, services[s].profiles]))).toEqual({
      postgres: undefined,
      redis: undefined,
      n8n: undefined,
      worker: ["queue"],
      runner: undefined,
      "worker-runner": ["queue"],
    });
    expect(services.worker.command).toEqual(["worker"]);
  });

  it("no secret variable appears in a command, entrypoint or health check", () => {
    for (const svc of Object.values(services)) {
      const argvLike = JSON.stringify([svc.command, svc.entrypoint, svc.healthcheck]);
      expect(argvLike).not.toMatch(/PASSWORD|ENCRYPTION_KEY|\$\{N8N_RUNNERS_AUTH_TOKEN/);
    }
  });

  it("n8n and worker share the same n8n environment (database, key, mode)", () => {
    const { QUEUE_HEALTH_CHECK_ACTIVE, QUEUE_HEALTH_CHECK_PORT, N8N_WORKER_SERVER_ADDRESS, ...workerShared } = services.worker.environment;
    expect(workerShared).toEqual(services.n8n.environment);
    expect([QUEUE_HEALTH_CHECK_ACTIVE, QUEUE_HEALTH_CHECK_PORT, N8N_WORKER_SERVER_ADDRESS]).toEqual(["true", "5678", "0.0.0.0"]);
  });

  it("n8n waits for healthy Postgres and Redis; the worker for healthy n8n (migrations) and Redis", () => {
    expect(services.n8n.depends_on).toEqual({ postgres: { condition: "service_healthy" }, redis: { condition: "service_healthy" } });
    expect(services.worker.depends_on).toEqual({ n8n: { condition: "service_healthy" }, redis: { condition: "service_healthy" } });
  });

  it("each runner starts beside its n8n (not after it), dials that n8n's broker, and shares n8n's token and image", () => {
    expect(services.runner.depends_on).toEqual({ n8n: { condition: "service_started" } });
    expect(services["worker-runner"].depends_on).toEqual({ worker: { condition: "service_started" } });
    expect(services.runner.environment.N8N_RUNNERS_TASK_BROKER_URI).toBe("http://n8n:5679");
    expect(services["worker-runner"].environment.N8N_RUNNERS_TASK_BROKER_URI).toBe("http://worker:5679");
    for (const r of [services.runner, services["worker-runner"]]) {
      expect(r.environment.N8N_RUNNERS_AUTH_TOKEN).toBe(services.n8n.environment.N8N_RUNNERS_AUTH_TOKEN);
      expect(r.image).toBe("${N8N_IMAGE}");
      // sh hands the token over on descriptor 3 and execs Node without it in the environment
      expect(r.entrypoint.slice(0, 2)).toEqual(["sh", "-c"]);
      expect(r.entrypoint[2]).toContain('exec env -u N8N_RUNNERS_AUTH_TOKEN node --disallow-code-generation-from-strings --disable-proto=delete -e "$$1"');
      expect(r.entrypoint[2]).toMatch(/^exec 3<<BTW_RUNNER_TOKEN\n\$\$N8N_RUNNERS_AUTH_TOKEN\nBTW_RUNNER_TOKEN\n/);
      // Compose would substitute a `$` in the script
      expect(r.entrypoint[4]).not.toContain("$");
      expect(r.entrypoint[4]).toContain("fs.readFileSync(3");
    }
    expect([services.n8n.environment.N8N_RUNNERS_MODE, services.worker.environment.N8N_RUNNERS_MODE]).toEqual(["external", "external"]);
    // n8n would otherwise send its environment (key, database password) to the runner for $env
    expect([services.n8n.environment.N8N_BLOCK_ENV_ACCESS_IN_NODE, services.worker.environment.N8N_BLOCK_ENV_ACCESS_IN_NODE]).toEqual(["true", "true"]);
  });
});
