// A small typed client for one n8n instance (checked against n8n 2.8.4), over fetch. btw
// reaches a tenant's n8n through an SSH tunnel, so all this takes is a base URL
// (http://127.0.0.1:<forwarded port>).
//
// Two APIs:
//   - the internal REST API (/rest/...), cookie `n8n-auth`: owner setup, login, API keys, and
//     manual runs. Used only for bootstrap and tests.
//   - the public API (/api/v1/...), header X-N8N-API-KEY: credentials, workflows, tags,
//     executions. Everything after bootstrap.
//
// Differences between n8n 1.x and 2.x that matter here (2.x behaviour is what this implements):
//   - POST /api/v1/workflows/:id/activate: 1.x "activates"; 2.x *publishes* the current draft
//     as the active version (optional body {versionId, name, description}). A workflow that
//     calls a sub-workflow cannot be published before the sub-workflow is.
//   - PUT /api/v1/workflows/:id: 2.x saves a new draft and re-publishes it when the workflow
//     is published; GET returns the draft in `nodes` and the published one in `activeVersion`.
//   - POST /rest/login: 2.x takes {emailOrLdapLoginId, password}; 1.x took {email, password}.
//   - POST /rest/api-keys: 2.x requires {label, scopes, expiresAt} (scopes from
//     GET /rest/api-keys/scopes) and answers rawApiKey once; early 1.x took no body at all.
//     A second key with the same label is refused (HTTP 500 "already an entry with this name").
//   - POST /rest/workflows/:id/run: 2.x takes {workflowData, triggerToStartFrom: {name}};
//     1.x took {workflowData, startNodes, destinationNode, runData}.
//   - Workflow settings gained callerPolicy/availableInMCP defaults that n8n adds on create.
//
// Errors are OperationErrors carrying the HTTP status and n8n's own message. Never in them:
// request bodies, passwords, API keys, cookies or credential data (the client redacts any
// secret it sent should n8n echo it back).

import { OperationError } from "../errors.js";

export interface N8nClientOptions {
  /** e.g. http://127.0.0.1:45678 — no trailing path */
  baseUrl: string;
  /** public-API key (X-N8N-API-KEY); needed for everything under /api/v1 */
  apiKey?: string;
  /** per-request timeout; default 30 s */
  timeoutMs?: number;
  /** how messages name this instance, e.g. "n8n of tenant 'acme'"; default "n8n at <host:port>" */
  label?: string;
  /** for tests */
  fetch?: typeof fetch;
}

export interface N8nOwner {
  email: string;
  firstName: string;
  lastName: string;
  /** 8–64 chars with a digit and an uppercase letter (n8n's rule) */
  password: string;
}

export interface N8nCredential {
  id: string;
  name: string;
  type: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface N8nCredentialInput {
  name: string;
  type: string;
  data: Record<string, unknown>;
}

export interface N8nNode {
  id?: string;
  name: string;
  type: string;
  typeVersion: number;
  position: [number, number] | number[];
  parameters: Record<string, unknown>;
  credentials?: Record<string, { id?: string; name: string }>;
  [key: string]: unknown;
}

/** Exactly what POST/PUT /api/v1/workflows accept. */
export interface N8nWorkflowPayload {
  name: string;
  nodes: N8nNode[];
  connections: Record<string, unknown>;
  settings: Record<string, unknown>;
  staticData?: Record<string, unknown> | null;
}

export interface N8nWorkflow extends N8nWorkflowPayload {
  id: string;
  active: boolean;
  versionId?: string;
  activeVersionId?: string | null;
  createdAt?: string;
  updatedAt?: string;
  tags?: N8nTag[];
  [key: string]: unknown;
}

export interface N8nTag {
  id: string;
  name: string;
}

export type N8nExecutionStatus = "canceled" | "crashed" | "error" | "new" | "running" | "success" | "unknown" | "waiting";

export interface N8nExecution {
  id: string;
  workflowId: string;
  status: N8nExecutionStatus;
  finished: boolean;
  mode: string;
  startedAt: string | null;
  stoppedAt: string | null;
  /** present with includeData */
  data?: unknown;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_MESSAGE = 300;
const PAGE_LIMIT = 250;
const FINISHED: ReadonlySet<N8nExecutionStatus> = new Set(["success", "error", "canceled", "crashed"]);

type Api = "rest" | "public" | "plain";

interface RequestSpec {
  method: string;
  path: string;
  api: Api;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** what this call does, for messages: "create credential 'btw OpenAI'" */
  what: string;
  timeoutMs?: number;
  /** statuses returned to the caller instead of thrown */
  accept?: number[];
}

interface Reply {
  status: number;
  json: unknown;
  headers: Headers;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class N8nClient {
  readonly baseUrl: string;
  readonly label: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  /** `n8n-auth=…` after setupOwner/login */
  private cookie: string | undefined;
  /** values never to appear in an error message */
  private readonly secrets = new Set<string>();

  constructor(opts: N8nClientOptions) {
    const u = new URL(opts.baseUrl);
    this.baseUrl = `${u.protocol}//${u.host}`;
    this.label = opts.label ?? `n8n at ${u.host}`;
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.doFetch = opts.fetch ?? fetch;
    if (opts.apiKey) this.secrets.add(opts.apiKey);
  }

  /** A client for the same instance using this API key (keeps the session cookie). */
  withApiKey(apiKey: string): N8nClient {
    const c = new N8nClient({ baseUrl: this.baseUrl, apiKey, timeoutMs: this.timeoutMs, label: this.label, fetch: this.doFetch });
    c.cookie = this.cookie;
    for (const s of this.secrets) c.secrets.add(s);
    return c;
  }

  // ---- readiness, owner, session, API key (internal REST API) ----

  /**
   * Waits until n8n can take API calls. /healthz/readiness answers 200 once the database is
   * connected and migrated — but n8n 2.8.4 mounts /rest and /api/v1 only ~5 s later (until
   * then they answer 404 with the editor's HTML). So: readiness 200, then GET /rest/settings
   * 200, then the public API answering an unauthenticated GET with 401 (it exists).
   */
  async waitReady(timeoutMs: number, intervalMs = 500): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const probes: [string, number, string][] = [
      ["/healthz/readiness", 200, "database not ready"],
      ["/rest/settings", 200, "REST API not mounted yet"],
      ["/api/v1/workflows", 401, "public API not mounted yet"],
    ];
    let last = "no answer";
    for (;;) {
      try {
        let ok = true;
        for (const [path, expected, meaning] of probes) {
          const res = await this.doFetch(`${this.baseUrl}${path}`, {
            signal: AbortSignal.timeout(Math.min(5_000, Math.max(500, deadline - Date.now()))),
          });
          await res.body?.cancel();
          if (res.status !== expected) {
            last = `${meaning}: ${path} answered HTTP ${res.status}`;
            ok = false;
            break;
          }
        }
        if (ok) return;
      } catch (e) {
        last = describeFetchFailure(e);
      }
      if (Date.now() + intervalMs > deadline) {
        throw new OperationError(`${this.label} not ready after ${seconds(timeoutMs)} (${last})`, {
          code: "n8n-not-ready",
          hint: "check the n8n container's logs (database connection, migrations; N8N_PUBLIC_API_DISABLED must not be set)",
          details: { lastAnswer: last },
        });
      }
      await sleep(intervalMs);
    }
  }

  /**
   * Creates the instance owner, or — when n8n answers "already setup" — logs in with the
   * same email and password instead. Either way the client holds a session afterwards.
   */
  async setupOwner(owner: N8nOwner): Promise<{ created: boolean }> {
    this.secrets.add(owner.password);
    const r = await this.request({
      method: "POST",
      path: "/rest/owner/setup",
      api: "plain",
      body: { email: owner.email, firstName: owner.firstName, lastName: owner.lastName, password: owner.password },
      what: "owner setup",
      accept: [400],
    });
    if (r.status === 400) {
      const message = errorMessage(r.json);
      if (!/already setup/i.test(message)) throw this.httpError("owner setup", r.status, message);
      await this.login(owner.email, owner.password);
      return { created: false };
    }
    this.takeCookie(r.headers, "owner setup");
    return { created: true };
  }

  /** POST /rest/login; keeps the `n8n-auth` cookie for the internal API. */
  async login(email: string, password: string): Promise<void> {
    this.secrets.add(password);
    // No browser-id header: n8n then binds the session to no browser, which is what a CLI wants.
    const r = await this.request({
      method: "POST",
      path: "/rest/login",
      api: "plain",
      body: { emailOrLdapLoginId: email, password },
      what: "login",
    });
    this.takeCookie(r.headers, "login");
  }

  get hasSession(): boolean {
    return this.cookie !== undefined;
  }

  /**
   * Creates a public-API key with every scope n8n offers and returns the raw key — n8n shows
   * it only once, so the caller must store it (encrypted) right away. n8n refuses a second
   * key with the same label; with `replaceExisting` keys carrying this label are deleted first
   * (use it when a previous run created the key but crashed before storing it).
   */
  async createApiKey(label: string, opts: { replaceExisting?: boolean; expiresAt?: number | null } = {}): Promise<string> {
    if (opts.replaceExisting) {
      for (const k of await this.listApiKeys()) if (k.label === label) await this.deleteApiKey(k.id);
    }
    const scopes = await this.request({ method: "GET", path: "/rest/api-keys/scopes", api: "rest", what: "list API key scopes" });
    const r = await this.request({
      method: "POST",
      path: "/rest/api-keys",
      api: "rest",
      body: { label, scopes: unwrap(scopes.json), expiresAt: opts.expiresAt ?? null },
      what: `create API key '${label}'`,
      accept: [500],
    });
    if (r.status === 500) {
      const message = errorMessage(r.json);
      if (/already an entry/i.test(message)) {
        throw new OperationError(`${this.label}: an API key labelled '${label}' already exists`, {
          code: "n8n-api-key-exists",
          hint: "n8n shows a key only once: replace it (createApiKey with replaceExisting) and store the new one",
        });
      }
      throw this.httpError(`create API key '${label}'`, r.status, message);
    }
    const raw = (unwrap(r.json) as { rawApiKey?: unknown }).rawApiKey;
    if (typeof raw !== "string" || raw === "") {
      throw new OperationError(`${this.label}: create API key '${label}' returned no key`, { code: "n8n-unexpected" });
    }
    this.secrets.add(raw);
    return raw;
  }

  async listApiKeys(): Promise<{ id: string; label: string }[]> {
    const r = await this.request({ method: "GET", path: "/rest/api-keys", api: "rest", what: "list API keys" });
    return (unwrap(r.json) as { id: string; label: string }[]).map((k) => ({ id: k.id, label: k.label }));
  }

  async deleteApiKey(id: string): Promise<void> {
    await this.request({ method: "DELETE", path: `/rest/api-keys/${enc(id)}`, api: "rest", what: `delete API key ${id}` });
  }

  // ---- credentials (public API) ----

  async listCredentials(): Promise<N8nCredential[]> {
    return (await this.paginate("/api/v1/credentials", {}, "list credentials")).map(toCredential);
  }

  async findCredentialByName(name: string, type?: string): Promise<N8nCredential | null> {
    const all = await this.listCredentials();
    const hits = all.filter((c) => c.name === name && (type === undefined || c.type === type));
    if (hits.length > 1) {
      throw new OperationError(`${this.label}: ${hits.length} credentials are named '${name}'`, {
        code: "n8n-credential-ambiguous",
        hint: "delete the duplicates in the tenant's n8n, keeping the one its workflows use",
      });
    }
    return hits[0] ?? null;
  }

  async createCredential(input: N8nCredentialInput): Promise<N8nCredential> {
    const r = await this.withDataSecrets(input.data, () =>
      this.request({ method: "POST", path: "/api/v1/credentials", api: "public", body: input, what: `create credential '${input.name}'` }),
    );
    return toCredential(r.json);
  }

  /** PATCH: replaces `data` entirely (isPartialData false) when given. */
  async updateCredential(id: string, patch: Partial<N8nCredentialInput>): Promise<N8nCredential> {
    const r = await this.withDataSecrets(patch.data ?? {}, () =>
      this.request({ method: "PATCH", path: `/api/v1/credentials/${enc(id)}`, api: "public", body: patch, what: `update credential ${id}` }),
    );
    return toCredential(r.json);
  }

  async deleteCredential(id: string): Promise<void> {
    await this.request({ method: "DELETE", path: `/api/v1/credentials/${enc(id)}`, api: "public", what: `delete credential ${id}` });
  }

  /** JSON schema of a credential type's data, e.g. credentialSchema("openAiApi"). */
  async credentialSchema(type: string): Promise<Record<string, unknown>> {
    const r = await this.request({ method: "GET", path: `/api/v1/credentials/schema/${enc(type)}`, api: "public", what: `credential schema ${type}` });
    return r.json as Record<string, unknown>;
  }

  // ---- workflows (public API) ----

  async listWorkflows(filter: { name?: string; active?: boolean; tags?: string[] } = {}): Promise<N8nWorkflow[]> {
    const query = { name: filter.name, active: filter.active, tags: filter.tags?.join(","), excludePinnedData: true };
    return (await this.paginate("/api/v1/workflows", query, "list workflows")) as N8nWorkflow[];
  }

  async getWorkflow(id: string): Promise<N8nWorkflow> {
    const r = await this.request({ method: "GET", path: `/api/v1/workflows/${enc(id)}`, api: "public", query: { excludePinnedData: true }, what: `get workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  /** Like getWorkflow, but null when n8n has no workflow with this id (deleted in the editor). */
  async findWorkflow(id: string): Promise<N8nWorkflow | null> {
    const r = await this.request({
      method: "GET",
      path: `/api/v1/workflows/${enc(id)}`,
      api: "public",
      query: { excludePinnedData: true },
      what: `get workflow ${id}`,
      accept: [404],
    });
    return r.status === 404 ? null : (r.json as N8nWorkflow);
  }

  async createWorkflow(payload: N8nWorkflowPayload): Promise<N8nWorkflow> {
    const r = await this.request({ method: "POST", path: "/api/v1/workflows", api: "public", body: payload, what: `create workflow '${payload.name}'` });
    return r.json as N8nWorkflow;
  }

  /** Saves a new version under the same id; n8n 2.x re-publishes it if it was published. */
  async updateWorkflow(id: string, payload: N8nWorkflowPayload): Promise<N8nWorkflow> {
    const r = await this.request({ method: "PUT", path: `/api/v1/workflows/${enc(id)}`, api: "public", body: payload, what: `update workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  /** n8n 2.x "publish" (1.x "activate"): the current version starts running its triggers. */
  async activateWorkflow(id: string): Promise<N8nWorkflow> {
    const r = await this.request({ method: "POST", path: `/api/v1/workflows/${enc(id)}/activate`, api: "public", what: `publish workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  async deactivateWorkflow(id: string): Promise<N8nWorkflow> {
    const r = await this.request({ method: "POST", path: `/api/v1/workflows/${enc(id)}/deactivate`, api: "public", what: `unpublish workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  async deleteWorkflow(id: string): Promise<void> {
    await this.request({ method: "DELETE", path: `/api/v1/workflows/${enc(id)}`, api: "public", what: `delete workflow ${id}` });
  }

  // ---- tags (public API) ----

  async listTags(): Promise<N8nTag[]> {
    return (await this.paginate("/api/v1/tags", {}, "list tags")).map((t) => ({ id: String((t as N8nTag).id), name: (t as N8nTag).name }));
  }

  async createTag(name: string): Promise<N8nTag> {
    const r = await this.request({ method: "POST", path: "/api/v1/tags", api: "public", body: { name }, what: `create tag '${name}'` });
    const t = r.json as N8nTag;
    return { id: String(t.id), name: t.name };
  }

  /** The tag with this name, created when missing. */
  async ensureTag(name: string): Promise<N8nTag> {
    return (await this.listTags()).find((t) => t.name === name) ?? (await this.createTag(name));
  }

  async getWorkflowTags(workflowId: string): Promise<N8nTag[]> {
    const r = await this.request({ method: "GET", path: `/api/v1/workflows/${enc(workflowId)}/tags`, api: "public", what: `get tags of workflow ${workflowId}` });
    return (r.json as N8nTag[]).map((t) => ({ id: String(t.id), name: t.name }));
  }

  /** Replaces the workflow's tags. */
  async setWorkflowTags(workflowId: string, tagIds: string[]): Promise<N8nTag[]> {
    const r = await this.request({
      method: "PUT",
      path: `/api/v1/workflows/${enc(workflowId)}/tags`,
      api: "public",
      body: tagIds.map((id) => ({ id })),
      what: `set tags of workflow ${workflowId}`,
    });
    return (r.json as N8nTag[]).map((t) => ({ id: String(t.id), name: t.name }));
  }

  // ---- executions ----

  /**
   * Runs a saved workflow now, as the editor's "Execute workflow" button does (internal API,
   * needs a session: setupOwner or login). Starts from `triggerNode` — for a Schedule Trigger
   * that means one immediate firing — and returns the execution id without waiting.
   * The public API has no "run" endpoint in 2.x; this is how tests (and an operator) run WF1
   * or WF3 without waiting for their schedule.
   */
  async runWorkflow(id: string, triggerNode: string): Promise<string> {
    const wf = await this.request({ method: "GET", path: `/rest/workflows/${enc(id)}`, api: "rest", what: `load workflow ${id}` });
    const r = await this.request({
      method: "POST",
      path: `/rest/workflows/${enc(id)}/run`,
      api: "rest",
      body: { workflowData: unwrap(wf.json), triggerToStartFrom: { name: triggerNode } },
      what: `run workflow ${id}`,
    });
    const data = unwrap(r.json) as { executionId?: unknown; waitingForWebhook?: unknown };
    if (typeof data.executionId !== "string" && typeof data.executionId !== "number") {
      throw new OperationError(`${this.label}: run workflow ${id} started no execution${data.waitingForWebhook ? " (it waits for a webhook call)" : ""}`, {
        code: "n8n-run-not-started",
      });
    }
    return String(data.executionId);
  }

  async getExecution(id: string, opts: { includeData?: boolean } = {}): Promise<N8nExecution> {
    const r = await this.request({
      method: "GET",
      path: `/api/v1/executions/${enc(id)}`,
      api: "public",
      query: { includeData: opts.includeData ?? false },
      what: `get execution ${id}`,
    });
    const e = r.json as N8nExecution & { id: string | number; workflowId: string | number };
    return { ...e, id: String(e.id), workflowId: String(e.workflowId) };
  }

  async listExecutions(filter: { workflowId?: string; status?: N8nExecutionStatus; includeData?: boolean; limit?: number } = {}): Promise<N8nExecution[]> {
    const r = await this.request({
      method: "GET",
      path: "/api/v1/executions",
      api: "public",
      query: { workflowId: filter.workflowId, status: filter.status, includeData: filter.includeData, limit: filter.limit ?? 100 },
      what: "list executions",
    });
    return ((r.json as { data: N8nExecution[] }).data ?? []).map((e) => ({ ...e, id: String(e.id), workflowId: String(e.workflowId) }));
  }

  /** Polls an execution until it finished (success, error, canceled, crashed) or the time is up. */
  async waitForExecution(id: string, timeoutMs: number, intervalMs = 500): Promise<N8nExecution> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.request({
        method: "GET",
        path: `/api/v1/executions/${enc(id)}`,
        api: "public",
        query: { includeData: false },
        what: `get execution ${id}`,
        accept: [404],
      });
      // 404 until n8n has written the execution row
      if (r.status !== 404) {
        const e = r.json as N8nExecution;
        if (FINISHED.has(e.status)) return this.getExecution(id, { includeData: e.status !== "success" });
      }
      if (Date.now() + intervalMs > deadline) {
        throw new OperationError(`${this.label}: execution ${id} still running after ${seconds(timeoutMs)}`, { code: "n8n-execution-timeout" });
      }
      await sleep(intervalMs);
    }
  }

  // ---- plumbing ----

  private async paginate(path: string, query: RequestSpec["query"], what: string): Promise<unknown[]> {
    const out: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const r = await this.request({ method: "GET", path, api: "public", query: { ...query, limit: PAGE_LIMIT, cursor }, what });
      const body = r.json as { data?: unknown[]; nextCursor?: string | null };
      out.push(...(body.data ?? []));
      if (!body.nextCursor) return out;
      cursor = body.nextCursor;
    }
    return out;
  }

  private async withDataSecrets<T>(data: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const added: string[] = [];
    for (const v of Object.values(data)) {
      if (typeof v === "string" && v.length >= 4 && !this.secrets.has(v)) {
        this.secrets.add(v);
        added.push(v);
      }
    }
    try {
      return await fn();
    } finally {
      for (const v of added) this.secrets.delete(v);
    }
  }

  private takeCookie(headers: Headers, what: string): void {
    const all = typeof headers.getSetCookie === "function" ? headers.getSetCookie() : [headers.get("set-cookie") ?? ""];
    for (const c of all) {
      const m = /^\s*(n8n-auth=[^;]+)/.exec(c);
      if (m) {
        this.cookie = m[1];
        this.secrets.add(m[1]!.slice("n8n-auth=".length));
        return;
      }
    }
    throw new OperationError(`${this.label}: ${what} answered without a session cookie`, { code: "n8n-unexpected" });
  }

  private async request(spec: RequestSpec): Promise<Reply> {
    const url = new URL(spec.path, this.baseUrl);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json" };
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    if (spec.api === "public") {
      if (!this.apiKey) {
        throw new OperationError(`${this.label}: ${spec.what} needs an API key`, { code: "n8n-no-api-key", hint: "bootstrap the tenant's n8n first (owner + API key)" });
      }
      headers["x-n8n-api-key"] = this.apiKey;
    }
    if (spec.api === "rest") {
      if (!this.cookie) {
        throw new OperationError(`${this.label}: ${spec.what} needs a session`, { code: "n8n-no-session", hint: "call setupOwner() or login() first" });
      }
      headers.cookie = this.cookie;
    }
    const timeoutMs = spec.timeoutMs ?? this.timeoutMs;
    let res: Response;
    try {
      res = await this.doFetch(url, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
    } catch (e) {
      if (isTimeout(e)) {
        throw new OperationError(`${this.label}: ${spec.what} timed out after ${seconds(timeoutMs)}`, {
          code: "n8n-timeout",
          details: { method: spec.method, path: spec.path },
        });
      }
      throw new OperationError(`${this.label}: ${spec.what} failed: ${describeFetchFailure(e)}`, {
        code: "n8n-unreachable",
        hint: "is the tenant's n8n running and the SSH tunnel up?",
        details: { method: spec.method, path: spec.path },
      });
    }
    const text = await res.text().catch(() => "");
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    if (res.ok || spec.accept?.includes(res.status)) return { status: res.status, json, headers: res.headers };
    throw this.httpError(spec.what, res.status, errorMessage(json), spec);
  }

  private httpError(what: string, status: number, message: string, spec?: RequestSpec): OperationError {
    const clean = this.redact(message);
    const hint =
      status === 401 && spec?.api === "public"
        ? "the tenant's n8n API key is missing, wrong or revoked: rotate it"
        : status === 401
          ? "the n8n session is invalid: log in again"
          : undefined;
    return new OperationError(`${this.label}: ${what} failed: HTTP ${status}${clean ? ` ${clean}` : ""}`, {
      code: status === 401 ? "n8n-unauthorized" : status === 404 ? "n8n-not-found" : "n8n-http",
      hint,
      details: { status, ...(spec ? { method: spec.method, path: spec.path } : {}), ...(clean ? { n8nMessage: clean } : {}) },
    });
  }

  private redact(message: string): string {
    let m = message;
    for (const s of this.secrets) if (s) m = m.split(s).join("[REDACTED]");
    m = m.replace(/\s+/g, " ").trim();
    return m.length > MAX_MESSAGE ? `${m.slice(0, MAX_MESSAGE - 1)}…` : m;
  }
}

/** n8n's error message from an error body: {message}, {code, message}, or plain text. */
function errorMessage(json: unknown): string {
  if (json && typeof json === "object") {
    const o = json as { message?: unknown; error?: unknown; hint?: unknown };
    if (typeof o.message === "string") return o.message;
    if (typeof o.error === "string") return o.error;
    return "";
  }
  if (typeof json === "string") return (json.split(/\r?\n/).find((l) => l.trim() !== "") ?? "").slice(0, MAX_MESSAGE);
  return "";
}

/** The internal REST API wraps answers in {data: …}; the public API does not. */
function unwrap(json: unknown): unknown {
  return json && typeof json === "object" && "data" in json ? (json as { data: unknown }).data : json;
}

function toCredential(json: unknown): N8nCredential {
  const c = json as N8nCredential;
  return { id: String(c.id), name: c.name, type: c.type, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

function seconds(ms: number): string {
  return `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
}

function describeFetchFailure(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code === "ECONNREFUSED") return "connection refused";
  if (cause?.code === "ECONNRESET") return "connection reset";
  if (isTimeout(e)) return "timed out";
  return cause?.code ?? (e instanceof Error ? e.message : String(e));
}
