// The customer's export archive (issue 16): its layout, the SQL that reads it, the
// scrubbing of secrets, and the tar writer read back (by our reader and by GNU tar).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CONTENT_TABLES_SQL, defaultExportFile, exportEntries, exportSql, parseContentTables, parseExport, redact, secretValues } from "../../../src/core/export/archive.js";
import { tarPack, tarUnpack } from "../../../src/core/export/tar.js";
import { shellJoin } from "../../../src/core/shell.js";
import { psqlQuery } from "../../../src/core/tenant/psql.js";

const data = {
  workflows: [{ id: "w1", name: "WF1 Seed expansion", active: true, nodes: [{ name: "n", credentials: { openAiApi: { id: "c1", name: "btw OpenAI" } } }] }],
  credentials: [{ id: "c1", name: "btw OpenAI", type: "openAiApi" }],
  executions: [{ id: 1, workflowId: "w1", workflowName: "WF1 Seed expansion", status: "success", mode: "trigger", startedAt: "2026-11-30T08:00:00Z", stoppedAt: "2026-11-30T08:00:05Z" }],
  content: { seeds: [{ id: 1, keyword: "n8n" }], keywords: [{ id: 1 }, { id: 2 }], clusters: [], articles: [{ id: 1, title: "T" }] },
};

describe("tenant export: the remote command and its SQL", () => {
  it("runs psql in the tenant's Postgres container with the SQL on stdin, nothing of it in argv", () => {
    expect(psqlQuery("btw-acme-postgres")).toEqual(["docker", "exec", "-i", "btw-acme-postgres", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", "n8n", "-d", "n8n"]);
    expect(shellJoin(psqlQuery("btw-acme-postgres"))).toBe("docker exec -i btw-acme-postgres psql -X -q -At -v ON_ERROR_STOP=1 --no-password -U n8n -d n8n");
  });

  it("reads credentials' names and types, never their data; executions without their payload", () => {
    const sql = exportSql(["articles", "keywords"]);
    expect(sql).toContain("select id, name, type, \"createdAt\", \"updatedAt\" from credentials_entity");
    expect(sql).not.toMatch(/\bdata\b/);
    expect(sql).not.toContain("execution_data");
    expect(sql).toContain("'articles', (select coalesce(json_agg(x order by x.id), '[]'::json) from (select * from content.articles) x)");
    expect(sql).not.toContain("content.seeds");
    expect(exportSql([])).toContain("'content', json_build_object()");
    expect(() => exportSql(["users; drop table x" as never])).toThrow(RangeError);
  });

  it("takes only the known content tables the database has", () => {
    expect(CONTENT_TABLES_SQL).toContain("table_schema = 'content'");
    expect(parseContentTables("articles clusters keywords other seeds\n")).toEqual(["seeds", "keywords", "clusters", "articles"]);
    expect(parseContentTables("\n")).toEqual([]);
  });

  it("parses the one JSON document and refuses an answer without its parts", () => {
    expect(parseExport(JSON.stringify({ ...data, content: { ...data.content, users: [] } }) + "\n").content).toEqual(data.content);
    expect(() => parseExport(JSON.stringify({ workflows: [], credentials: [] }))).toThrow(/executions/);
    expect(() => parseExport("ERROR")).toThrow();
  });
});

describe("tenant export: secrets", () => {
  it("replaces every occurrence of a secret in any string, keys included, and counts them", () => {
    const secret = "s3cr3t-Value-0123456789";
    const r = redact({ a: [`Bearer ${secret}`, { [secret]: `${secret}${secret}` }], n: 3, short: "abc" }, [secret, "abc"]);
    expect(JSON.stringify(r.value)).not.toContain(secret);
    expect(r.value).toEqual({ a: ["Bearer [REDACTED]", { "[REDACTED]": "[REDACTED][REDACTED]" }], n: 3, short: "abc" });
    expect(r.hits).toBe(4);
  });

  it("searches all sealed values but the settings (URLs, the WordPress user)", () => {
    const sealed = new Map([
      ["POSTGRES_PASSWORD", "pw"],
      ["N8N_API_KEY", "key"],
      ["WORDPRESS_URL", "https://wp.example"],
      ["WORDPRESS_USERNAME", "editor"],
      ["OPENAI_BASE_URL", "http://llm"],
      ["WORDPRESS_APP_PASSWORD", "app"],
    ]);
    expect(secretValues(sealed)).toEqual(["pw", "key", "app"]);
  });
});

describe("tenant export: the archive", () => {
  const at = new Date("2026-12-01T18:50:07.123Z");

  it("lays out manifest, workflows, credentials, executions and one file per content table under <tenant>-export/", () => {
    const { entries, manifest } = exportEntries("acme", "pro", data, at, "n8nio/n8n:2.8.4");
    expect(entries.map((e) => e.name)).toEqual([
      "acme-export/manifest.json",
      "acme-export/workflows.json",
      "acme-export/credentials.json",
      "acme-export/executions.json",
      "acme-export/content/seeds.json",
      "acme-export/content/keywords.json",
      "acme-export/content/clusters.json",
      "acme-export/content/articles.json",
    ]);
    expect(manifest).toMatchObject({ format: "btw-tenant-export/1", tenant: "acme", plan: "pro", exportedAt: "2026-12-01T18:50:07.123Z", n8nImage: "n8nio/n8n:2.8.4" });
    expect(manifest.files).toContainEqual({ path: "content/keywords.json", rows: 2 });
    expect(JSON.parse(entries[0]!.data.toString())).toEqual(manifest);
    expect(JSON.parse(entries[2]!.data.toString())).toEqual(data.credentials);
  });

  it("names the default file after the tenant and the time", () => {
    expect(defaultExportFile("acme", at)).toBe("acme-export-20261201T185007Z.tar.gz");
  });

  it("packs a tar that reads back byte for byte, here and with GNU tar", () => {
    const { entries } = exportEntries("acme", "pro", data, at, null);
    const big = { name: "acme-export/big.bin", data: Buffer.alloc(1025, 7) };
    const tar = tarPack([...entries, big], at);
    expect(tar.length % 512).toBe(0);
    expect(tarUnpack(tar)).toEqual([...entries, big]);
    const dir = mkdtempSync(join(tmpdir(), "btw-export-"));
    try {
      writeFileSync(join(dir, "a.tar.gz"), gzipSync(tar));
      const listed = execFileSync("tar", ["-tzf", join(dir, "a.tar.gz")], { encoding: "utf8" }).trim().split("\n");
      expect(listed).toEqual([...entries, big].map((e) => e.name));
      execFileSync("tar", ["-xzf", join(dir, "a.tar.gz"), "-C", dir]);
      expect(JSON.parse(execFileSync("cat", [join(dir, "acme-export/workflows.json")], { encoding: "utf8" }))).toEqual(data.workflows);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(gunzipSync(gzipSync(tar)).equals(tar)).toBe(true);
  });

  it("refuses names a tar cannot hold or that escape the directory, and duplicates", () => {
    expect(() => tarPack([{ name: "a".repeat(101), data: Buffer.alloc(0) }], at)).toThrow(RangeError);
    expect(() => tarPack([{ name: "../x", data: Buffer.alloc(0) }], at)).toThrow(RangeError);
    expect(() => tarPack([{ name: "/x", data: Buffer.alloc(0) }], at)).toThrow(RangeError);
    expect(() => tarPack([{ name: "x", data: Buffer.alloc(0) }, { name: "x", data: Buffer.alloc(0) }], at)).toThrow(/duplicate/);
  });

  it("detects a damaged header", () => {
    const tar = tarPack([{ name: "x", data: Buffer.from("hi") }], at);
    tar[0] = "y".charCodeAt(0);
    expect(() => tarUnpack(tar)).toThrow(/bad header/);
  });
});
