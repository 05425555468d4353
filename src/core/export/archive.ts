// `btw tenant export`: what the customer's archive holds and how it is read from the tenant's
// own database. Pure: the remote argv, the SQL, the redaction of secrets, the archive layout.
//
//   <tenant>-export/manifest.json            what, when, counts, the rules below
//   <tenant>-export/workflows.json           id, name, active, nodes, connections, settings, dates
//   <tenant>-export/credentials.json         id, name, type, dates — never `data` (the secrets)
//   <tenant>-export/executions.json          id, workflow, status, mode, started/stopped — no payload
//   <tenant>-export/content/<table>.json     content.seeds, keywords, clusters, articles (rows)
//
// Read from the database, not n8n's API: n8n may be suspended (an export is often the last
// thing a leaving customer asks for), and the API gives neither executions' metadata alone
// nor credentials without asking for them.

import type { TarEntry } from "./tar.js";

export const EXPORT_FORMAT = "btw-tenant-export/1";
export const CONTENT_TABLES = ["seeds", "keywords", "clusters", "articles"] as const;
export type ContentTable = (typeof CONTENT_TABLES)[number];

/** Which content tables exist (the schema is created at provisioning; an old tenant may lack it). */
export const CONTENT_TABLES_SQL =
  "select coalesce(string_agg(table_name, ' ' order by table_name), '') from information_schema.tables where table_schema = 'content' and table_type = 'BASE TABLE'";

export function parseContentTables(stdout: string): ContentTable[] {
  const present = new Set(stdout.trim().split(/\s+/));
  return CONTENT_TABLES.filter((t) => present.has(t));
}

const agg = (select: string, order: string) => `(select coalesce(json_agg(x order by ${order}), '[]'::json) from (${select}) x)`;

/**
 * One statement, one JSON document: the workflows, the credentials' names and types, the
 * executions' metadata and the given content tables. Table names come from CONTENT_TABLES only.
 */
export function exportSql(contentTables: readonly ContentTable[]): string {
  for (const t of contentTables) if (!(CONTENT_TABLES as readonly string[]).includes(t)) throw new RangeError(`exportSql: unknown content table ${t}`);
  const parts = [
    `'workflows', ${agg(`select id, name, active, nodes, connections, settings, "createdAt", "updatedAt" from workflow_entity`, "x.id")}`,
    `'credentials', ${agg(`select id, name, type, "createdAt", "updatedAt" from credentials_entity`, "x.id")}`,
    `'executions', ${agg(
      `select e.id, e."workflowId", w.name as "workflowName", e.status, e.mode, e."startedAt", e."stoppedAt" from execution_entity e left join workflow_entity w on w.id = e."workflowId"`,
      "x.id",
    )}`,
    `'content', json_build_object(${contentTables.map((t) => `'${t}', ${agg(`select * from content.${t}`, "x.id")}`).join(", ")})`,
  ];
  return `select json_build_object(${parts.join(", ")})::text`;
}

export interface ExportData {
  workflows: Array<Record<string, unknown>>;
  credentials: Array<Record<string, unknown>>;
  executions: Array<Record<string, unknown>>;
  content: Partial<Record<ContentTable, Array<Record<string, unknown>>>>;
}

export function parseExport(stdout: string): ExportData {
  const doc = JSON.parse(stdout.trim()) as Partial<ExportData>;
  const arr = (v: unknown, what: string) => {
    if (!Array.isArray(v)) throw new Error(`the tenant's database answered without ${what}`);
    return v as Array<Record<string, unknown>>;
  };
  const content: ExportData["content"] = {};
  for (const [k, v] of Object.entries(doc.content ?? {})) if ((CONTENT_TABLES as readonly string[]).includes(k)) content[k as ContentTable] = arr(v, `content.${k}`);
  return { workflows: arr(doc.workflows, "workflows"), credentials: arr(doc.credentials, "credentials"), executions: arr(doc.executions, "executions"), content };
}

export const REDACTED = "[REDACTED]";

/**
 * Every string anywhere in `value` with each secret replaced by [REDACTED]. The database
 * never holds btw's secrets in these columns by design; this is the guarantee when a customer
 * pasted one into a node's parameters. Secrets shorter than 8 characters are not searched
 * (they would match ordinary words; btw's own are 24+).
 */
export function redact<T>(value: T, secrets: readonly string[]): { value: T; hits: number } {
  const needles = secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  let hits = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      let s = v;
      for (const n of needles) {
        if (s.includes(n)) {
          hits += s.split(n).length - 1;
          s = s.split(n).join(REDACTED);
        }
      }
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [walk(k) as string, walk(x)]));
    return v;
  };
  const out = walk(value) as T;
  return { value: out, hits };
}

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  tenant: string;
  plan: string;
  exportedAt: string;
  n8nImage: string | null;
  files: Array<{ path: string; rows: number }>;
  notes: string[];
}

/** The archive's entries, in a fixed order, under `<tenant>-export/`. */
export function exportEntries(tenant: string, plan: string, data: ExportData, at: Date, n8nImage: string | null): { entries: TarEntry[]; manifest: ExportManifest } {
  const root = `${tenant}-export`;
  const files: Array<{ path: string; rows: Array<Record<string, unknown>> }> = [
    { path: "workflows.json", rows: data.workflows },
    { path: "credentials.json", rows: data.credentials },
    { path: "executions.json", rows: data.executions },
    ...CONTENT_TABLES.filter((t) => data.content[t] !== undefined).map((t) => ({ path: `content/${t}.json`, rows: data.content[t]! })),
  ];
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    tenant,
    plan,
    exportedAt: at.toISOString(),
    n8nImage,
    files: files.map((f) => ({ path: f.path, rows: f.rows.length })),
    notes: [
      "workflows.json: as stored by n8n; a node's credentials are referenced by id and name only",
      "credentials.json: names and types only; the secret values are not exported",
      "executions.json: metadata only (no input or output data)",
      "content/*.json: the rows of the content schema (seeds, keywords, clusters, articles)",
    ],
  };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2) + "\n", "utf8");
  return {
    manifest,
    entries: [{ name: `${root}/manifest.json`, data: json(manifest) }, ...files.map((f) => ({ name: `${root}/${f.path}`, data: json(f.rows) }))],
  };
}

/** Default archive name: acme-export-20261201T185000Z.tar.gz */
export function defaultExportFile(tenant: string, at: Date): string {
  return `${tenant}-export-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}.tar.gz`;
}

/** Sealed values that are settings, not secrets: an article's URL rightly holds the WordPress URL. */
export const NOT_SECRET = ["OPENAI_BASE_URL", "WORDPRESS_URL", "WORDPRESS_USERNAME"] as const;

export function secretValues(sealed: ReadonlyMap<string, string>): string[] {
  return [...sealed].filter(([name]) => !(NOT_SECRET as readonly string[]).includes(name)).map(([, v]) => v);
}
