import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { ROOT, tempHome, type BtwHome } from "../../support/cli.js";

// The same commands against the embedded store (its own PostgreSQL server) and a configured PostgreSQL give
// the same results; concurrency behaves as the README promises on each.

const script = async (home: BtwHome) => {
  const out: unknown[] = [];
  const step = async (args: string[]) => {
    const r = await home.run([...args, "--json"]);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    out.push(normalize(JSON.parse(r.stdout)));
  };
  await step(["server", "add", "b", "--host", "192.0.2.2", "--capacity", "6", "--no-verify"]);
  await step(["server", "add", "a", "--host", "192.0.2.1", "--port", "2222", "--user", "deploy", "--no-verify"]);
  await step(["server", "list"]);
  await step(["server", "show", "a"]);
  await step(["server", "remove", "b", "--yes"]);
  await step(["server", "list"]);
  await step(["db", "status"]);
  return out;
};

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !["id", "createdAt", "updatedAt", "checkedAt", "driver", "location", "server"].includes(k))
        .map(([k, val]) => [k, normalize(val)]),
    );
  }
  return v;
}

describe("state drivers", () => {
  let pg: TestDatabase;
  let pgHome: BtwHome;
  let liteHome: BtwHome;

  beforeAll(async () => {
    pg = await createTestDatabase();
    pgHome = tempHome({ BTW_DATABASE_URL: pg.url });
    liteHome = tempHome();
    for (const h of [pgHome, liteHome]) {
      const r = await h.run(["init", "--domain", "example.com"]);
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await liteHome?.run(["db", "stop", "--force"]); // its server must not outlive the home
    pgHome?.cleanup();
    liteHome?.cleanup();
    await pg?.drop();
  });

  it("the embedded store and PostgreSQL give identical results for the same commands", async () => {
    const [onPg, onLite] = await Promise.all([script(pgHome), script(liteHome)]);
    expect(onLite).toEqual(onPg);
    expect(JSON.stringify(onPg)).toContain('"name":"a"');
  });

  it("two concurrent `db migrate` on a fresh database: one migrates, the other finds nothing to do", async () => {
    const fresh = await createTestDatabase();
    try {
      const h = tempHome({ BTW_DATABASE_URL: fresh.url, BTW_MASTER_KEY: Buffer.alloc(32, 7).toString("base64") });
      const cfg = ["--config", join(h.dir, "btw.yml")];
      writeFileSync(join(h.dir, "btw.yml"), "domain: example.com\n"); // a config, and a database never migrated
      const [a, b] = await Promise.all([h.run([...cfg, "db", "migrate", "--json"]), h.run([...cfg, "db", "migrate", "--json"])]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const applied = [a, b].map((r) => (JSON.parse(r.stdout) as { applied: string[] }).applied.length).sort();
      expect(applied[0]).toBe(0);
      expect(applied[1]).toBeGreaterThanOrEqual(3);
      h.cleanup();
    } finally {
      await fresh.drop();
    }
  });

  it("a second btw on the embedded store while another holds a session works at once (no store-wide lock)", async () => {
    // A real second process stays connected (as a long `tenant create` would).
    const holder = spawn(process.execPath, ["--import", "tsx", "-e", `
      const { openDb } = await import(${JSON.stringify(join(ROOT, "src/state/db.ts"))});
      const db = await openDb({ dataDir: ${JSON.stringify(join(liteHome.dir, "state"))}, command: "tenant create acme" });
      await db.lock({ kind: "tenant", name: "acme" });
      process.stdout.write("held\\n");
      setTimeout(() => db.close().then(() => process.exit(0)), 30000);
    `], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
        holder.on("exit", (c) => reject(new Error(`holder exited ${c}`)));
      });
      const r = await liteHome.run(["server", "list"], { env: { BTW_LOCK_TIMEOUT_MS: "1500" } });
      expect(r.code, r.stderr).toBe(0);
    } finally {
      holder.kill();
      await liteHome.run(["db", "stop", "--force"]);
    }
  });
});
