import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_IMAGES_TIMEOUT_MS, LabCleanup, ensureLabImages, labInfo, mustOnServer, onServer, uniqueName, type LabInfo, type LabServer } from "./support/lab.js";

// The lab's two n8n versions (issue 11): the older one (lab.n8nPrevious) starts on an empty
// database, then the lab's current n8n (lab.images.n8n) starts on the SAME database and
// migrates it forward. Plain containers on one VM, no btw: this proves the images, not btw.

/** Migrations 2.8.4 has and 2.6.4 lacks (@n8n/db 1.8.2 vs 1.6.2; test/lab/README.md). */
const NEW_MIGRATIONS = [
  "CreateSecretsProviderConnectionTables1769433700000",
  "CreateWorkflowPublishedVersionTable1769698710000",
  "ExpandSubjectIDColumnLength1769784356000",
  "AddWorkflowUnpublishScopeToCustomRoles1769900001000",
];
/** The newest migration 2.6.4 has. */
const LAST_OLD_MIGRATION = "AddPublishedVersionIdToWorkflowDependency1769000000000";

describe("the lab's older n8n migrates forward to its current n8n", () => {
  let lab: LabInfo;
  let server: LabServer;
  const cleanup = new LabCleanup();
  const net = uniqueName("labtest-upg-net");
  const pg = uniqueName("labtest-upg-pg");
  const encryptionKey = uniqueName("key");

  beforeAll(async () => {
    lab = labInfo();
    server = lab.servers[0]!;
    // the older n8n, built on first use (`up` leaves it out) and pulled, so readiness times exclude the pull
    const refs = await ensureLabImages(["n8nPrevious"], [server]);
    expect(refs.n8nPrevious).toBe(lab.n8nPrevious.image);
  }, LAB_IMAGES_TIMEOUT_MS);
  afterAll(() => cleanup.run());

  const psql = async (sql: string): Promise<string> =>
    (await mustOnServer(server, ["docker", "exec", pg, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "n8n", "-d", "n8n", "-c", sql])).trim();

  /** Starts n8n `image` on the test database; resolves when /healthz/readiness answers 200. */
  async function startN8n(image: string): Promise<{ name: string; readyMs: number }> {
    const name = cleanup.container(server, uniqueName("labtest-upg-n8n"));
    const started = Date.now();
    await mustOnServer(server, [
      "docker", "run", "-d", "--name", name, "--network", net,
      "-e", "DB_TYPE=postgresdb", "-e", `DB_POSTGRESDB_HOST=${pg}`, "-e", "DB_POSTGRESDB_DATABASE=n8n",
      "-e", "DB_POSTGRESDB_USER=n8n", "-e", "DB_POSTGRESDB_PASSWORD=pw",
      "-e", `N8N_ENCRYPTION_KEY=${encryptionKey}`, "-e", "N8N_DIAGNOSTICS_ENABLED=false",
      image,
    ], { timeoutMs: 600_000 });
    const deadline = Date.now() + 240_000;
    for (;;) {
      const r = await onServer(server, ["docker", "exec", name, "wget", "-q", "-O", "-", "http://127.0.0.1:5678/healthz/readiness"]);
      if (r.code === 0) return { name, readyMs: Date.now() - started };
      const state = (await onServer(server, ["docker", "inspect", "-f", "{{.State.Status}}", name])).stdout.trim();
      if (state !== "running" || Date.now() > deadline) {
        const logs = await onServer(server, ["docker", "logs", "--tail", "40", name]);
        throw new Error(`${image} not ready (state ${state}):\n${logs.stdout}${logs.stderr}`);
      }
      await new Promise((res) => setTimeout(res, 1_000));
    }
  }

  it("describes the older n8n apart from btw's images", () => {
    expect(lab.n8nPrevious.image).toBe(`${lab.registry}/btw/n8n:${lab.n8nPrevious.version}`);
    expect(lab.n8nPrevious.image).not.toBe(lab.images.n8n);
    expect(Object.values(lab.images)).not.toContain(lab.n8nPrevious.image);
  });

  it("runs the older n8n on PostgreSQL, then the current one on the same database, which migrates it", async () => {
    await mustOnServer(server, ["docker", "network", "create", cleanup.network(server, net)]);
    cleanup.container(server, pg);
    await mustOnServer(server, [
      "docker", "run", "-d", "--name", pg, "--network", net,
      "-e", "POSTGRES_USER=n8n", "-e", "POSTGRES_PASSWORD=pw", "-e", "POSTGRES_DB=n8n", lab.images.postgres,
    ], { timeoutMs: 300_000 });
    for (let i = 0; (await onServer(server, ["docker", "exec", pg, "pg_isready", "-U", "n8n", "-d", "n8n"])).code !== 0; i++) {
      if (i > 60) throw new Error("postgres not ready");
      await new Promise((res) => setTimeout(res, 500));
    }

    const old = await startN8n(lab.n8nPrevious.image);
    expect((await mustOnServer(server, ["docker", "exec", old.name, "n8n", "--version"])).trim()).toBe(lab.n8nPrevious.version);
    const before = (await psql("select name from migrations order by id")).split("\n");
    expect(before).toContain(LAST_OLD_MIGRATION);
    for (const m of NEW_MIGRATIONS) expect(before).not.toContain(m);
    expect(await psql("select to_regclass('workflow_published_version') is null")).toBe("t");
    await mustOnServer(server, ["docker", "rm", "-f", old.name]);

    const cur = await startN8n(lab.images.n8n);
    const after = (await psql("select name from migrations order by id")).split("\n");
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length)).toEqual(NEW_MIGRATIONS);
    expect(await psql("select to_regclass('workflow_published_version') is not null")).toBe("t");
    const version = (await mustOnServer(server, ["docker", "exec", cur.name, "n8n", "--version"])).trim();
    expect(lab.images.n8n.endsWith(`:${version}`)).toBe(true);
    process.stderr.write(`n8n ${lab.n8nPrevious.version} ready in ${old.readyMs} ms, ${version} (migrated) in ${cur.readyMs} ms\n`);
  });
});
