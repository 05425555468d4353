import { describe, expect, it } from "vitest";
import {
  composeBase,
  composeConfigCheck,
  composeDown,
  composeExec,
  composeLogs,
  composePs,
  composePull,
  composeRm,
  composeStart,
  composeStop,
  composeUp,
  dockerUpdateLimits,
  isNoSuchContainer,
  tenantProfiles,
} from "../../../src/core/commands/compose.js";
import type { TenantProfile, TenantService } from "../../../src/core/tenant/layout.js";
import { UsageError } from "../../../src/errors.js";

const BASE = [
  "docker", "compose",
  "-p", "btw-acme",
  "--project-directory", "/opt/btw/tenants/acme",
  "-f", "/opt/btw/tenants/acme/compose.yml",
  "--env-file", "/opt/btw/tenants/acme/.env",
];
const ALL = [...BASE, "--profile", "queue"];

describe("composeBase", () => {
  it("names project, directory, file and env file explicitly", () => {
    expect(composeBase("acme")).toEqual(BASE);
  });

  it("refuses a slug that is not a tenant name", () => {
    expect(() => composeBase("acme; rm -rf /")).toThrow(UsageError);
  });
});

describe("composeUp", () => {
  it("regular mode: no profile", () => {
    expect(composeUp("acme", { profiles: [] })).toEqual([...BASE, "up", "-d", "--remove-orphans"]);
  });

  it("queue mode: --profile queue before the subcommand", () => {
    expect(composeUp("acme", { profiles: ["queue"] })).toEqual([...BASE, "--profile", "queue", "up", "-d", "--remove-orphans"]);
  });

  it("--wait, with or without a timeout, and --pull never", () => {
    expect(composeUp("acme", { profiles: [], wait: true })).toEqual([...BASE, "up", "-d", "--remove-orphans", "--wait"]);
    expect(composeUp("acme", { profiles: [], wait: 120, pullNever: true })).toEqual([
      ...BASE, "up", "-d", "--remove-orphans", "--pull", "never", "--wait", "--wait-timeout", "120",
    ]);
    expect(composeUp("acme", { profiles: [], wait: false })).toEqual([...BASE, "up", "-d", "--remove-orphans"]);
  });

  it("refuses an unknown profile and a bad timeout", () => {
    expect(() => composeUp("acme", { profiles: ["gpu" as TenantProfile] })).toThrow("unknown Compose profile 'gpu' (known: queue)");
    expect(() => composeUp("acme", { profiles: [], wait: 0 })).toThrow(UsageError);
  });

  it("tenantProfiles follows the plan's queue mode", () => {
    expect(tenantProfiles({ queueMode: false })).toEqual([]);
    expect(tenantProfiles({ queueMode: true })).toEqual(["queue"]);
  });
});

describe("commands that see every profile (so a worker is never missed)", () => {
  it("composeDown keeps or deletes volumes", () => {
    expect(composeDown("acme", { volumes: false })).toEqual([...ALL, "down", "--remove-orphans"]);
    expect(composeDown("acme", { volumes: true })).toEqual([...ALL, "down", "--remove-orphans", "--volumes"]);
  });

  it("composePs lists all containers as JSON", () => {
    expect(composePs("acme")).toEqual([...ALL, "ps", "--all", "--format", "json"]);
  });

  it("composeStop: all, some services, with a timeout", () => {
    expect(composeStop("acme")).toEqual([...ALL, "stop"]);
    expect(composeStop("acme", { services: ["n8n", "worker"], timeoutSec: 40 })).toEqual([...ALL, "stop", "--timeout", "40", "n8n", "worker"]);
  });

  it("composeRm stops and removes named services", () => {
    expect(composeRm("acme", ["worker"])).toEqual([...ALL, "rm", "--stop", "--force", "worker"]);
    expect(() => composeRm("acme", [])).toThrow(UsageError);
  });

  it("composeConfigCheck", () => {
    expect(composeConfigCheck("acme")).toEqual([...ALL, "config", "--quiet"]);
  });
});

describe("composeStart and composePull follow the plan's profiles", () => {
  it("composeStart", () => {
    expect(composeStart("acme", { profiles: [] })).toEqual([...BASE, "start"]);
    expect(composeStart("acme", { profiles: ["queue"], services: ["n8n"] })).toEqual([...BASE, "--profile", "queue", "start", "n8n"]);
  });

  it("composePull", () => {
    expect(composePull("acme", { profiles: ["queue"] })).toEqual([...BASE, "--profile", "queue", "pull", "--quiet"]);
  });
});

describe("composeLogs", () => {
  it("defaults: every service, no colour", () => {
    expect(composeLogs("acme")).toEqual([...ALL, "logs", "--no-color"]);
  });

  it("service, since, tail, timestamps, follow; values glued to their flags", () => {
    expect(composeLogs("acme", { service: "n8n", since: "10m", tail: 200, follow: true, timestamps: true })).toEqual([
      ...ALL, "logs", "--no-color", "--since=10m", "--tail=200", "--timestamps", "--follow", "n8n",
    ]);
    expect(composeLogs("acme", { since: "2025-01-31T12:00:00Z", tail: 0 })).toEqual([...ALL, "logs", "--no-color", "--since=2025-01-31T12:00:00Z", "--tail=0"]);
    expect(composeLogs("acme", { since: "1h30m" })).toContain("--since=1h30m");
    expect(composeLogs("acme", { since: "1738324800" })).toContain("--since=1738324800");
  });

  it.each([["--follow"], ["10 minutes"], ["$(id)"], [""]])("refuses --since %j", (since) => {
    expect(() => composeLogs("acme", { since })).toThrow(UsageError);
  });

  it("refuses a negative tail and an unknown service", () => {
    expect(() => composeLogs("acme", { tail: -1 })).toThrow(UsageError);
    expect(() => composeLogs("acme", { service: "mysql" as TenantService })).toThrow("unknown service 'mysql' (known: postgres, redis, n8n, worker, runner, worker-runner)");
  });
});

describe("composeExec", () => {
  it("without a TTY: -T, then the service, then argv untouched", () => {
    expect(composeExec("acme", "postgres", ["psql", "-U", "n8n", "-c", "select 1"])).toEqual([
      ...ALL, "exec", "-T", "postgres", "psql", "-U", "n8n", "-c", "select 1",
    ]);
  });

  it("with a TTY and a user", () => {
    expect(composeExec("acme", "n8n", ["sh"], { tty: true, user: "node" })).toEqual([...ALL, "exec", "--user", "node", "n8n", "sh"]);
  });

  it("argv may start with a dash: it follows the service name", () => {
    expect(composeExec("acme", "redis", ["--version"]).slice(-2)).toEqual(["redis", "--version"]);
  });

  it("refuses an empty command, an unknown service and an odd user", () => {
    expect(() => composeExec("acme", "n8n", [])).toThrow("nothing to run: give a command after --");
    expect(() => composeExec("acme", "db" as TenantService, ["true"])).toThrow(UsageError);
    expect(() => composeExec("acme", "n8n", ["true"], { user: "--privileged" })).toThrow(UsageError);
  });
});

describe("dockerUpdateLimits", () => {
  it("sets cpus, cpu shares (the reservation, else the cap), memory with equal swap (no swap) and pids", () => {
    expect(dockerUpdateLimits("btw-acme-n8n", { cpus: 2, cpuReserved: 0.5, memoryMb: 2048, pids: 512 })).toContain("512");
    expect(dockerUpdateLimits("btw-acme-n8n", { cpus: 1.5, memoryMb: 2048, pids: 512 })).toEqual([
      "docker", "update", "--cpus", "1.5", "--cpu-shares", "1536", "--memory", "2048m", "--memory-swap", "2048m", "--pids-limit", "512", "btw-acme-n8n",
    ]);
  });

  it("refuses bad limits and container names", () => {
    expect(() => dockerUpdateLimits("btw-acme-n8n", { cpus: 0, memoryMb: 512, pids: 64 })).toThrow(UsageError);
    expect(() => dockerUpdateLimits("btw-acme-n8n", { cpus: 1, memoryMb: 512, pids: 0 })).toThrow(UsageError);
    expect(() => dockerUpdateLimits("--all", { cpus: 1, memoryMb: 512, pids: 64 })).toThrow(UsageError);
  });
});

describe("isNoSuchContainer", () => {
  it("is Docker's answer for a container that does not exist, and nothing else", () => {
    expect(isNoSuchContainer("Error response from daemon: No such container: btw-acme-runner\n")).toBe(true);
    expect(isNoSuchContainer("Error response from daemon: Cannot update container abc: Minimum memory limit allowed is 6MB\n")).toBe(false);
    expect(isNoSuchContainer("error during connect: Post http://docker/v1.45/containers/x/update: EOF")).toBe(false);
  });
});
