import { describe, expect, it } from "vitest";
import { composeCreateN8n, composeUpDatabase, dockerPgRestore, execPgDump, execRecreateDatabase, parseCounts, parseN8nVersion } from "../../../src/core/backup/commands.js";
import { backupId, backupKey, publicManifest } from "../../../src/core/backup/manifest.js";

const base = ["docker", "compose", "-p", "btw-acme", "--project-directory", "/opt/btw/tenants/acme", "-f", "/opt/btw/tenants/acme/compose.yml", "--env-file", "/opt/btw/tenants/acme/.env"];

describe("backup command builders", () => {
  it("dumps in custom format over the container's socket, as the tenant's role: zstd:1 from PostgreSQL 16, gzip 1 before", () => {
    expect(execPgDump(170004)).toEqual(["pg_dump", "--format=custom", "--compress=zstd:1", "--no-password", "-U", "n8n", "-d", "n8n"]);
    expect(execPgDump(150010)).toContain("--compress=1");
    expect(execPgDump(null)).toContain("--compress=1");
  });

  it("restores from stdin in one transaction, stopping at the first error", () => {
    expect(dockerPgRestore("acme")).toEqual([
      "docker", "exec", "-i", "btw-acme-postgres", "pg_restore", "--no-password", "-U", "n8n", "-d", "n8n", "--no-owner", "--exit-on-error", "--single-transaction",
    ]);
  });

  it("re-creates the database from the maintenance database", () => {
    expect(execRecreateDatabase().slice(-4)).toEqual(["-c", "drop database if exists n8n with (force)", "-c", "create database n8n owner n8n"]);
  });

  it("starts the database alone and creates n8n without starting it", () => {
    expect(composeUpDatabase("acme")).toEqual([...base, "up", "-d", "--wait", "--wait-timeout", "180", "postgres"]);
    expect(composeCreateN8n("acme", { queueMode: true })).toEqual([...base, "--profile", "queue", "up", "--no-start", "--no-deps", "n8n"]);
  });

  it("parses counts and versions, or says it cannot", () => {
    expect(parseCounts("170004 3 1 40\n")).toEqual({ serverVersionNum: 170004, workflows: 3, credentials: 1, executions: 40 });
    expect(parseCounts("ERROR")).toBeNull();
    expect(parseN8nVersion('{"name":"n8n","version":"2.8.4"}')).toBe("2.8.4");
    expect(parseN8nVersion("cat: no such file")).toBeNull();
  });

  it("names backups sortably and refuses names that would escape the storage", () => {
    const id = backupId("acme", new Date("2026-01-02T03:04:05.678Z"), "a1b2c3");
    expect(id).toBe("acme-20260102T030405Z-a1b2c3");
    expect(backupKey("acme", id)).toBe("acme/acme-20260102T030405Z-a1b2c3.btwb");
    expect(() => backupKey("acme", "../x")).toThrow();
    expect(() => backupId("../x", new Date(), "ab12")).toThrow();
  });

  it("keeps the sealed escrow out of what is shown", () => {
    const shown = publicManifest({ id: "x", escrow: { keyId: "k", sealed: "v1.SECRET", names: ["N8N_ENCRYPTION_KEY"] } });
    expect(JSON.stringify(shown)).not.toContain("SECRET");
    expect(shown.escrow).toEqual({ keyId: "k", names: ["N8N_ENCRYPTION_KEY"] });
  });
});

describe("restore and verify checks", () => {
  it("compares counts, skipping those the backup could not pin down", async () => {
    const { countMismatches } = await import("../../../src/core/backup/checks.js");
    expect(countMismatches({ workflows: 3, credentials: 1, executions: null }, { workflows: 3, credentials: 1, executions: 99 })).toEqual([]);
    expect(countMismatches({ workflows: 3, credentials: 1, executions: 5 }, { workflows: 2, credentials: 1, executions: 5 })).toEqual(["workflows: backup has 3, restored 2"]);
    expect(countMismatches({ workflows: 3, credentials: 1, executions: 5 }, null)).toEqual(["could not count the restored rows"]);
  });

  it("takes a verify's scratch subnet from the top of the pool", async () => {
    const { scratchSubnet } = await import("../../../src/core/backup/checks.js");
    expect(scratchSubnet("10.0.0.0/24", 26, ["10.0.0.0/26"])).toBe("10.0.0.192/26");
    expect(scratchSubnet("10.0.0.0/24", 26, ["10.0.0.192/26"])).toBe("10.0.0.128/26");
    expect(scratchSubnet("10.0.0.0/25", 26, ["10.0.0.0/26", "10.0.0.64/26"])).toBeNull();
  });
});

describe("restore --as", () => {
  it("moves the owner to the new tenant's address, quoted as SQL literals", async () => {
    const { execRenameOwner } = await import("../../../src/core/backup/commands.js");
    expect(execRenameOwner("owner@acme.example.com", "owner@o'brien.example.com").at(-1)).toBe(
      `update "user" set email = 'owner@o''brien.example.com' where email = 'owner@acme.example.com'`,
    );
  });
});
