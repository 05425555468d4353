import { describe, expect, it } from "vitest";
import { composeUp } from "../../../src/core/commands/compose.js";
import { tenantVolumesIn } from "../../../src/core/commands/stack-ownership.js";
import { tenantEnvValues } from "../../../src/core/tenant/env.js";
import { isPgdataVolumeOf, pgdataVolumeFor } from "../../../src/core/tenant/layout.js";
import {
  PG_DUMP_SCRIPT,
  PG_RESTORE_SCRIPT,
  containersUsingVolume,
  countDifferences,
  majorOf,
  parseCounts,
  pgCountRows,
  pgDumpToFile,
  pgRestoreFromFile,
  pgVolumeRm,
  planPostgresUpgrade,
  postgresSteps,
  resolvePostgresTarget,
} from "../../../src/core/upgrade/postgres.js";
import { shellJoin } from "../../../src/core/shell.js";
import { envInput } from "../tenant/fixtures.js";

describe("the Postgres target", () => {
  it("puts a major on the default image's repository, takes a full image as given", () => {
    expect(resolvePostgresTarget("17", "172.29.0.1:5000/btw/postgres:15")).toBe("172.29.0.1:5000/btw/postgres:17");
    expect(resolvePostgresTarget("postgres:17.2-bookworm", "postgres:16")).toBe("postgres:17.2-bookworm");
  });
  it("refuses what names no major", () => {
    expect(() => resolvePostgresTarget("", "postgres:16")).toThrow(/needs a Postgres major/);
    expect(() => resolvePostgresTarget("seventeen", "postgres:16")).toThrow(/not a Postgres major/);
    expect(() => resolvePostgresTarget("postgres:latest", "postgres:16")).toThrow(/pinned/);
    expect(() => resolvePostgresTarget("postgres:bookworm", "postgres:16")).toThrow(/cannot tell the Postgres major/);
  });
  it("reads the major from the tag", () => {
    expect(majorOf("postgres:17")).toBe("17");
    expect(majorOf("r:5000/btw/postgres:15.8-bookworm")).toBe("15");
    expect(majorOf("postgres:16-alpine")).toBe("16");
  });
});

describe("planPostgresUpgrade", () => {
  const current = { postgres: "r/btw/postgres:15", pgdataVolume: "btw-acme-pgdata" };
  it("a new volume per major, the old one named as kept, the dump beside the tenant's files", () => {
    expect(planPostgresUpgrade("acme", current, "r/btw/postgres:17")).toEqual({
      from: "r/btw/postgres:15",
      to: "r/btw/postgres:17",
      fromMajor: "15",
      toMajor: "17",
      fromVolume: "btw-acme-pgdata",
      toVolume: "btw-acme-pgdata-pg17",
      dumpFile: "/opt/btw/tenants/acme/pg-upgrade/n8n-pg15.dump",
    });
  });
  it("refuses a downgrade and the same major (bad input, nothing started)", () => {
    expect(() => planPostgresUpgrade("acme", current, "r/btw/postgres:14")).toThrow(expect.objectContaining({ exitCode: 2, code: "postgres-downgrade" }));
    expect(() => planPostgresUpgrade("acme", current, "r/btw/postgres:15.9")).toThrow(expect.objectContaining({ exitCode: 2, code: "postgres-same-major" }));
  });
});

describe("phases", () => {
  it("a resumed upgrade redoes only what its phase has not done", () => {
    expect(postgresSteps("prepared")).toEqual(["backup", "pull", "maintenance", "stop-n8n", "dump", "stop-postgres", "new-volume", "start-postgres", "restore", "compare", "start-n8n", "readiness", "record"]);
    expect(postgresSteps("dumped")).toEqual(["stop-postgres", "new-volume", "start-postgres", "restore", "compare", "start-n8n", "readiness", "record"]);
    expect(postgresSteps("restored")).toEqual(["start-n8n", "readiness", "record"]);
    expect(postgresSteps("rolling-back")).toEqual(["rollback"]);
  });
});

describe("remote commands (argv, no secret)", () => {
  const dump = "/opt/btw/tenants/acme/pg-upgrade/n8n-pg15.dump";
  it("pg_dump -Fc through the container's socket into a file on the server", () => {
    expect(pgDumpToFile("acme", dump)).toEqual(["sh", "-c", PG_DUMP_SCRIPT, "sh", "btw-acme-postgres", dump, "n8n", "n8n"]);
    expect(PG_DUMP_SCRIPT).toContain('pg_dump -U "$3" -d "$4" -Fc');
    expect(PG_DUMP_SCRIPT).toContain("umask 077");
  });
  it("a dump left running by a killed btw shares no file with the re-run's: the dump that lands is whole (real sh, a stand-in docker that prints slowly)", async () => {
    const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { spawn } = await import("node:child_process");
    const dir = mkdtempSync(join(tmpdir(), "btw-dump-"));
    try {
      // stands in for `docker exec <c> pg_dump …`: $PART1, a pause, then $PART2
      writeFileSync(join(dir, "docker"), '#!/bin/sh\nprintf "%s" "$PART1"; sleep "$PAUSE"; printf "%s" "$PART2"\n', { mode: 0o755 });
      const file = join(dir, "out", "n8n.dump");
      const run = (env: Record<string, string>) => {
        const c = spawn("sh", ["-c", PG_DUMP_SCRIPT, "sh", "btw-acme-postgres", file, "n8n", "n8n"], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env }, stdio: "ignore" });
        return new Promise<number | null>((r) => c.once("exit", r));
      };
      const stray = run({ PART1: "AAAAA", PAUSE: "3", PART2: "aaaaa" });
      // until the stray has written its first part and sleeps (a fixed 0.5 s raced a loaded machine)
      const { readdirSync } = await import("node:fs");
      const wrote = () => {
        try {
          return readdirSync(join(dir, "out")).some((f) => f.startsWith("n8n.dump.partial.") && readFileSync(join(dir, "out", f), "utf8") === "AAAAA");
        } catch {
          return false;
        }
      };
      for (const deadline = Date.now() + 8_000; !wrote(); ) {
        if (Date.now() > deadline) throw new Error("the stray dump wrote nothing within 8 s");
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await run({ PART1: "BBBBBBBBBB", PAUSE: "0", PART2: "" })).toBe(0);
      expect(await stray).not.toBe(0); // its partial was removed: its rename fails
      // one shared partial gave BBBBBaaaaa: the stray wrote on at its own offset into the renamed file
      expect(readFileSync(file, "utf8")).toBe("BBBBBBBBBB");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("pg_restore in one transaction, stopping at the first error", () => {
    expect(pgRestoreFromFile("acme", dump)).toEqual(["sh", "-c", PG_RESTORE_SCRIPT, "sh", "btw-acme-postgres", dump, "n8n", "n8n"]);
    expect(PG_RESTORE_SCRIPT).toContain("--single-transaction");
    expect(PG_RESTORE_SCRIPT).toContain("--exit-on-error");
  });
  it("refuses a dump path outside the tenants' root", () => {
    expect(() => pgDumpToFile("acme", "/etc/passwd")).toThrow(/invalid dump path/);
    expect(() => pgRestoreFromFile("acme", "/opt/btw/tenants/acme/../../x/pg-upgrade/n8n-pg15.dump")).toThrow(/invalid dump path/);
  });
  it("counts rows with psql, one word per value", () => {
    const argv = pgCountRows("acme");
    expect(argv.slice(0, 9)).toEqual(["docker", "exec", "btw-acme-postgres", "psql", "-U", "n8n", "-d", "n8n", "-X"]);
    expect(shellJoin(argv)).toContain("'|'");
  });
  it("removes only a tenant's Postgres volume", () => {
    expect(pgVolumeRm("btw-acme-pgdata")).toEqual(["docker", "volume", "rm", "btw-acme-pgdata"]);
    expect(pgVolumeRm("btw-acme-pgdata-pg17")).toEqual(["docker", "volume", "rm", "btw-acme-pgdata-pg17"]);
    expect(() => pgVolumeRm("btw-acme-n8ndata")).toThrow(/invalid volume/);
    expect(() => pgVolumeRm("-f")).toThrow(/invalid volume/);
    expect(containersUsingVolume("btw-acme-pgdata")).toEqual(["docker", "ps", "-a", "--filter", "volume=btw-acme-pgdata", "--format", "{{.Names}}"]);
  });
  it("starts Postgres alone", () => {
    expect(composeUp("acme", { profiles: [], wait: 120, services: ["postgres"] }).slice(-7)).toEqual(["up", "-d", "--remove-orphans", "--wait", "--wait-timeout", "120", "postgres"]);
  });
});

describe("row counts", () => {
  it("parses psql's table|rows lines and names what differs", () => {
    const before = parseCounts("credentials_entity|2\nexecution_entity|5\nworkflow_entity|4\n");
    expect(before).toEqual({ credentials_entity: 2, execution_entity: 5, workflow_entity: 4 });
    expect(countDifferences(before, { ...before })).toEqual([]);
    expect(countDifferences(before, { credentials_entity: 2, workflow_entity: 3 })).toEqual(["execution_entity 5 → missing", "workflow_entity 4 → 3"]);
  });
});

describe("the data volume is state", () => {
  it("names a tenant's upgrade volumes and no other tenant's", () => {
    expect(pgdataVolumeFor("acme", "17")).toBe("btw-acme-pgdata-pg17");
    expect(isPgdataVolumeOf("acme", "btw-acme-pgdata")).toBe(true);
    expect(isPgdataVolumeOf("acme", "btw-acme-pgdata-pg17")).toBe(true);
    expect(isPgdataVolumeOf("acme", "btw-acme-pgdata-pg17-pgdata")).toBe(false); // tenant acme-pgdata-pg17's
    expect(isPgdataVolumeOf("acme", "btw-acme-2-pgdata")).toBe(false);
    expect(tenantVolumesIn("acme", ["btw-acme-pgdata", "btw-acme-pgdata-pg17", "btw-acme-2-pgdata-pg17", "btw-acme-n8ndata"])).toEqual(["btw-acme-n8ndata", "btw-acme-pgdata", "btw-acme-pgdata-pg17"]);
  });
  it(".env: PGDATA_VOLUME defaults to the layout's, takes the recorded one, refuses another tenant's", () => {
    expect(tenantEnvValues(envInput()).PGDATA_VOLUME).toBe(`btw-${envInput().slug}-pgdata`);
    const slug = envInput().slug;
    expect(tenantEnvValues({ ...envInput(), pgdataVolume: `btw-${slug}-pgdata-pg17` }).PGDATA_VOLUME).toBe(`btw-${slug}-pgdata-pg17`);
    expect(() => tenantEnvValues({ ...envInput(), pgdataVolume: "btw-other-pgdata-pg17" })).toThrow(/not a Postgres data volume/);
  });
});
