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
//   - POST /rest/login: 2.x takes {emailOrLdapLoginId, password}; 1.x before ~1.82 took
//     {email, password} (renamed in n8n PR #13605).
//   - POST /rest/api-keys: 2.x requires {label, scopes, expiresAt} (scopes from
//     GET /rest/api-keys/scopes) and answers rawApiKey once; scopes and expiry came late in
//     1.x, and early 1.x allowed one key per user, created with no body.
//     A second key with the same label is refused (HTTP 500 "already an entry with this name").
//   - POST /rest/workflows/:id/run: 2.x takes {workflowData, triggerToStartFrom: {name}};
//     1.x took {workflowData, startNodes, destinationNode, runData}.
//   - Workflow settings gained callerPolicy/availableInMCP defaults that n8n adds on create.
//   - /healthz/readiness answers 200 a few seconds before /rest and /api/v1 are mounted
//     (seen on 2.8.4: ~5 s of 404s with the editor's HTML); waitReady checks all three.
//
// Errors are OperationErrors carrying the HTTP status and n8n's own message. Never in them:
// request bodies, passwords, API keys, cookies or credential data (the client redacts any
// secret it sent should n8n echo it back).

import { OperationError } from "../errors.js";
import { enc, errorMessage, N8nHttp, seconds, sleep, unwrap, describeFetchFailure } from "./n8n-http.js";
import type {
  N8nClientOptions,
  N8nCredential,
  N8nCredentialInput,
  N8nExecution,
  N8nExecutionStatus,
  N8nOwner,
  N8nTag,
  N8nWorkflow,
  N8nWorkflowPayload,
} from "./n8n-types.js";

export type * from "./n8n-types.js";

/** How long login waits out n8n's per-account throttle (5 a minute) before it fails. */
export const LOGIN_THROTTLE_WAIT_MS = 75_000;

/** Retry-After in seconds (n8n's rate limiter); null when absent or not a number of seconds. */
export function retryAfterMs(header: string | null): number | null {
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  return Number(header.trim()) * 1000;
}

const FINISHED: ReadonlySet<N8nExecutionStatus> = new Set(["success", "error", "canceled", "crashed"]);

export class N8nClient {
  private readonly http: N8nHttp;
  /** the owner's login, for the few reads an older n8n offers only on its internal API */
  private owner: { email: string; password: string } | undefined;

  constructor(opts: N8nClientOptions | N8nHttp) {
    this.http = opts instanceof N8nHttp ? opts : new N8nHttp(opts);
  }

  /** Lets the client log in as the owner when (and only when) it needs the internal API. */
  withOwnerLogin(email: string, password: string): this {
    this.http.secrets.add(password);
    this.owner = { email, password };
    return this;
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** how messages name this instance */
  get label(): string {
    return this.http.label;
  }

  /** A client for the same instance using this API key (keeps the session cookie). */
  withApiKey(apiKey: string): N8nClient {
    const c = new N8nClient(this.http.withApiKey(apiKey));
    c.owner = this.owner;
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
          const res = await this.http.doFetch(`${this.http.baseUrl}${path}`, {
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
    this.http.secrets.add(owner.password);
    const r = await this.http.request({
      method: "POST",
      path: "/rest/owner/setup",
      api: "plain",
      body: { email: owner.email, firstName: owner.firstName, lastName: owner.lastName, password: owner.password },
      what: "owner setup",
      accept: [400],
    });
    if (r.status === 400) {
      const message = errorMessage(r.json);
      if (!/already setup/i.test(message)) throw this.http.httpError("owner setup", r.status, message);
      await this.login(owner.email, owner.password);
      return { created: false };
    }
    this.http.takeCookie(r.headers, "owner setup");
    return { created: true };
  }

  /**
   * POST /rest/login; keeps the `n8n-auth` cookie for the internal API and returns it
   * (`n8n-auth=…`, a secret: never log it).
   */
  async login(email: string, password: string): Promise<string> {
    this.http.secrets.add(password);
    // n8n 2.x in production lets one account log in 5 times a minute and answers 429 beyond
    // (seen on 2.6.4 and 2.8.4): a rotation re-run after re-run logs in that often. The
    // throttle is waited out, within LOGIN_THROTTLE_WAIT_MS.
    const deadline = Date.now() + LOGIN_THROTTLE_WAIT_MS;
    for (;;) {
      // No browser-id header: n8n then binds the session to no browser, which is what a CLI wants.
      const r = await this.http.request({
        method: "POST",
        path: "/rest/login",
        api: "plain",
        body: { emailOrLdapLoginId: email, password },
        what: "login",
        accept: [429],
        // seen after an upgrade's recreate on a loaded server: "login failed: UND_ERR_SOCKET"
        resendable: true,
      });
      if (r.status !== 429) return this.http.takeCookie(r.headers, "login");
      const wait = retryAfterMs(r.headers.get("retry-after")) ?? 15_000;
      if (Date.now() + wait > deadline) throw this.http.httpError("login", r.status, errorMessage(r.json));
      await sleep(wait);
    }
  }

  get hasSession(): boolean {
    return this.http.cookie !== undefined;
  }

  /**
   * Creates a public-API key with every scope n8n offers and returns the raw key — n8n shows
   * it only once, so the caller must store it (encrypted) right away. n8n refuses a second
   * key with the same label; with `replaceExisting` keys carrying this label are deleted first
   * (use it when a previous run created the key but crashed before storing it). Never to
   * replace a key that still works: a kill between the delete and the caller's storing the
   * new one leaves the caller holding a revoked key — a rotation creates the new key under a
   * label of its own, stores it, and only then deletes the old one.
   */
  async createApiKey(label: string, opts: { replaceExisting?: boolean; expiresAt?: number | null } = {}): Promise<string> {
    // the scopes and the old keys are independent reads: one round trip's wait for both
    const [scopes, existing] = await Promise.all([
      this.http.request({ method: "GET", path: "/rest/api-keys/scopes", api: "rest", what: "list API key scopes" }),
      opts.replaceExisting ? this.listApiKeys() : Promise.resolve([]),
    ]);
    for (const k of existing) if (k.label === label) await this.deleteApiKey(k.id);
    const r = await this.http.request({
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
      throw this.http.httpError(`create API key '${label}'`, r.status, message);
    }
    const raw = (unwrap(r.json) as { rawApiKey?: unknown }).rawApiKey;
    if (typeof raw !== "string" || raw === "") {
      throw new OperationError(`${this.label}: create API key '${label}' returned no key`, { code: "n8n-unexpected" });
    }
    this.http.secrets.add(raw);
    return raw;
  }

  async listApiKeys(): Promise<{ id: string; label: string }[]> {
    const r = await this.http.request({ method: "GET", path: "/rest/api-keys", api: "rest", what: "list API keys" });
    return (unwrap(r.json) as { id: string; label: string }[]).map((k) => ({ id: k.id, label: k.label }));
  }

  async deleteApiKey(id: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: `/rest/api-keys/${enc(id)}`, api: "rest", what: `delete API key ${id}` });
  }

  /**
   * n8n's own breaking-changes report (GET /rest/breaking-changes, owner scope
   * breakingChanges:list): the rules of the next major this instance's workflows and settings
   * trip. `null` when this version does not offer it (404). Logs in as the owner if needed.
   */
  async breakingChanges(): Promise<BreakingChangeFinding[] | null> {
    if (!this.http.cookie && this.owner) await this.login(this.owner.email, this.owner.password);
    const r = await this.http.request({ method: "GET", path: "/rest/breaking-changes", query: { version: "v2" }, api: "rest", accept: [404], what: "read the breaking-changes report" });
    if (r.status === 404) return null;
    return parseBreakingChanges(unwrap(r.json));
  }

  // ---- credentials (public API) ----

  /**
   * The public API lists credentials only since n8n 2.8 (GET /api/v1/credentials answers 405
   * before: create/update/delete existed, listing did not). On an older n8n, with a session
   * or the owner's login (withOwnerLogin), the internal REST API's list is used instead.
   */
  async listCredentials(): Promise<N8nCredential[]> {
    try {
      return (await this.http.paginate("/api/v1/credentials", {}, "list credentials")).map(toCredential);
    } catch (e) {
      if (!(e instanceof OperationError) || e.details?.status !== 405) throw e;
      if (!this.http.cookie && !this.owner) throw e;
      return this.listCredentialsAsOwner();
    }
  }

  async findCredentialByName(name: string, type?: string): Promise<N8nCredential | null> {
    return this.pickCredential(await this.listCredentials(), name, type);
  }

  /** The one credential with this name (and type); two are reported, not guessed between. */
  pickCredential(all: readonly N8nCredential[], name: string, type?: string): N8nCredential | null {
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
    const r = await this.http.withDataSecrets(input.data, () =>
      this.http.request({ method: "POST", path: "/api/v1/credentials", api: "public", body: input, what: `create credential '${input.name}'` }),
    );
    return toCredential(r.json);
  }

  /** PATCH: replaces `data` entirely (isPartialData false) when given. */
  async updateCredential(id: string, patch: Partial<N8nCredentialInput>): Promise<N8nCredential> {
    const r = await this.http.withDataSecrets(patch.data ?? {}, () =>
      this.http.request({ method: "PATCH", path: `/api/v1/credentials/${enc(id)}`, api: "public", body: patch, what: `update credential ${id}` }),
    );
    return toCredential(r.json);
  }

  async deleteCredential(id: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: `/api/v1/credentials/${enc(id)}`, api: "public", what: `delete credential ${id}` });
  }

  // ---- credentials as the owner (internal REST API, session) ----
  //
  // For when the API key cannot be relied on — a secrets rotation replaces it, and a rotation
  // an older btw left half done may have left a revoked one in the state — or the public API
  // lacks the call (listing before 2.8). The same calls on every 2.x: GET /rest/credentials
  // lists (no data), POST creates, PATCH /rest/credentials/:id replaces name, type and data
  // (n8n keeps a field sent as its blanking value; btw always sends every field).

  /** Logs in as the owner (withOwnerLogin's account) unless the client holds a session already. */
  async ensureSession(): Promise<void> {
    if (this.http.cookie) return;
    if (!this.owner) {
      throw new OperationError(`${this.label}: this call needs the owner's session`, { code: "n8n-no-session", hint: "give the client the owner's login (withOwnerLogin)" });
    }
    await this.login(this.owner.email, this.owner.password);
  }

  async listCredentialsAsOwner(): Promise<N8nCredential[]> {
    await this.ensureSession();
    const r = await this.http.request({ method: "GET", path: "/rest/credentials", api: "rest", what: "list credentials" });
    return (unwrap(r.json) as unknown[]).map(toCredential);
  }

  async createCredentialAsOwner(input: N8nCredentialInput): Promise<N8nCredential> {
    await this.ensureSession();
    const r = await this.http.withDataSecrets(input.data, () =>
      this.http.request({ method: "POST", path: "/rest/credentials", api: "rest", body: { name: input.name, type: input.type, data: input.data }, what: `create credential '${input.name}'` }),
    );
    return toCredential(unwrap(r.json));
  }

  async updateCredentialAsOwner(id: string, input: N8nCredentialInput): Promise<N8nCredential> {
    await this.ensureSession();
    const r = await this.http.withDataSecrets(input.data, () =>
      this.http.request({ method: "PATCH", path: `/rest/credentials/${enc(id)}`, api: "rest", body: { name: input.name, type: input.type, data: input.data }, what: `update credential ${id}` }),
    );
    return toCredential(unwrap(r.json));
  }

  /** JSON schema of a credential type's data, e.g. credentialSchema("openAiApi"). */
  async credentialSchema(type: string): Promise<Record<string, unknown>> {
    const r = await this.http.request({ method: "GET", path: `/api/v1/credentials/schema/${enc(type)}`, api: "public", what: `credential schema ${type}` });
    return r.json as Record<string, unknown>;
  }

  // ---- workflows (public API) ----

  async listWorkflows(filter: { name?: string; active?: boolean; tags?: string[] } = {}): Promise<N8nWorkflow[]> {
    const query = { name: filter.name, active: filter.active, tags: filter.tags?.join(","), excludePinnedData: true };
    return (await this.http.paginate("/api/v1/workflows", query, "list workflows")) as N8nWorkflow[];
  }

  async getWorkflow(id: string): Promise<N8nWorkflow> {
    const r = await this.http.request({ method: "GET", path: `/api/v1/workflows/${enc(id)}`, api: "public", query: { excludePinnedData: true }, what: `get workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  /** Like getWorkflow, but null when n8n has no workflow with this id (deleted in the editor). */
  async findWorkflow(id: string): Promise<N8nWorkflow | null> {
    const r = await this.http.request({
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
    const r = await this.http.request({ method: "POST", path: "/api/v1/workflows", api: "public", body: payload, what: `create workflow '${payload.name}'` });
    return r.json as N8nWorkflow;
  }

  /** Saves a new version under the same id; n8n 2.x re-publishes it if it was published. */
  async updateWorkflow(id: string, payload: N8nWorkflowPayload): Promise<N8nWorkflow> {
    const r = await this.http.request({ method: "PUT", path: `/api/v1/workflows/${enc(id)}`, api: "public", body: payload, what: `update workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  /** n8n 2.x "publish" (1.x "activate"): the current version starts running its triggers. */
  async activateWorkflow(id: string): Promise<N8nWorkflow> {
    const r = await this.http.request({ method: "POST", path: `/api/v1/workflows/${enc(id)}/activate`, api: "public", what: `publish workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  async deactivateWorkflow(id: string): Promise<N8nWorkflow> {
    const r = await this.http.request({ method: "POST", path: `/api/v1/workflows/${enc(id)}/deactivate`, api: "public", what: `unpublish workflow ${id}` });
    return r.json as N8nWorkflow;
  }

  async deleteWorkflow(id: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: `/api/v1/workflows/${enc(id)}`, api: "public", what: `delete workflow ${id}` });
  }

  // ---- tags (public API) ----

  async listTags(): Promise<N8nTag[]> {
    return (await this.http.paginate("/api/v1/tags", {}, "list tags")).map((t) => ({ id: String((t as N8nTag).id), name: (t as N8nTag).name }));
  }

  async createTag(name: string): Promise<N8nTag> {
    const r = await this.http.request({ method: "POST", path: "/api/v1/tags", api: "public", body: { name }, what: `create tag '${name}'` });
    const t = r.json as N8nTag;
    return { id: String(t.id), name: t.name };
  }

  /** The tag with this name, created when missing. */
  async ensureTag(name: string): Promise<N8nTag> {
    return (await this.listTags()).find((t) => t.name === name) ?? (await this.createTag(name));
  }

  async getWorkflowTags(workflowId: string): Promise<N8nTag[]> {
    const r = await this.http.request({ method: "GET", path: `/api/v1/workflows/${enc(workflowId)}/tags`, api: "public", what: `get tags of workflow ${workflowId}` });
    return (r.json as N8nTag[]).map((t) => ({ id: String(t.id), name: t.name }));
  }

  /** Replaces the workflow's tags. */
  async setWorkflowTags(workflowId: string, tagIds: string[]): Promise<N8nTag[]> {
    const r = await this.http.request({
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
   * that means one immediate firing — and returns the execution id without waiting. It runs
   * the saved version (the draft, equal to the published one after a deploy); sub-workflows
   * it calls run as usual. Chosen over `n8n execute --id` (a second n8n process on the same
   * database: another ~0.5 GB and seconds of boot, and a `docker exec` on a tenant) and over
   * a Manual/Webhook trigger in the shipped JSON. The public API has no "run" in 2.x.
   */
  async runWorkflow(id: string, triggerNode: string): Promise<string> {
    const wf = await this.http.request({ method: "GET", path: `/rest/workflows/${enc(id)}`, api: "rest", what: `load workflow ${id}` });
    const r = await this.http.request({
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

  /**
   * Whether n8n can decrypt a stored credential (needs a session): GET
   * /rest/credentials/:id?includeData=true answers 200 only when it could. The data itself is
   * dropped here, never returned or logged.
   */
  async credentialDecrypts(id: string): Promise<boolean> {
    try {
      await this.http.request({ method: "GET", path: `/rest/credentials/${enc(id)}`, query: { includeData: "true" }, api: "rest", what: `read credential ${id}` });
      return true;
    } catch {
      return false;
    }
  }

  async getExecution(id: string, opts: { includeData?: boolean } = {}): Promise<N8nExecution> {
    const r = await this.http.request({
      method: "GET",
      path: `/api/v1/executions/${enc(id)}`,
      api: "public",
      query: { includeData: opts.includeData ?? false },
      what: `get execution ${id}`,
    });
    const e = r.json as N8nExecution & { id: string | number; workflowId: string | number };
    return { ...e, id: String(e.id), workflowId: String(e.workflowId) };
  }

  async deleteExecution(id: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: `/api/v1/executions/${enc(id)}`, api: "public", what: `delete execution ${id}` });
  }

  async listExecutions(filter: { workflowId?: string; status?: N8nExecutionStatus; includeData?: boolean; limit?: number } = {}): Promise<N8nExecution[]> {
    const r = await this.http.request({
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
      const r = await this.http.request({
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
}

function toCredential(json: unknown): N8nCredential {
  const c = json as N8nCredential;
  return { id: String(c.id), name: c.name, type: c.type, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

export interface BreakingChangeFinding {
  rule: string;
  severity: string;
  /** "instance" (settings, environment) or "workflow" */
  scope: "instance" | "workflow";
  /** workflows affected, for workflow rules */
  workflows: number;
}

/**
 * The report's shape moved between n8n releases (a bare report, or `{report: …}`; results
 * split into instance and workflow rules); read what is there, keep titles and counts only.
 */
export function parseBreakingChanges(json: unknown): BreakingChangeFinding[] {
  const root = (json && typeof json === "object" && "report" in json ? (json as { report: unknown }).report : json) as Record<string, unknown> | null;
  if (!root || typeof root !== "object") return [];
  const out: BreakingChangeFinding[] = [];
  const take = (list: unknown, scope: "instance" | "workflow") => {
    if (!Array.isArray(list)) return;
    for (const item of list as Array<Record<string, unknown>>) {
      const meta = (item.ruleMetadata ?? item.rule ?? {}) as Record<string, unknown>;
      const rule = String(item.ruleTitle ?? meta.title ?? item.title ?? item.ruleId ?? meta.id ?? "unnamed rule");
      const severity = String(item.ruleSeverity ?? meta.severity ?? item.severity ?? "unknown");
      const affected = item.affectedWorkflows;
      out.push({ rule, severity, scope, workflows: Array.isArray(affected) ? affected.length : typeof affected === "number" ? affected : 0 });
    }
  };
  take(root.instanceResults, "instance");
  take(root.workflowResults, "workflow");
  return out;
}
