// The HTTP transport under the n8n client: one request function with a timeout on every call,
// the session cookie and API key, pagination, and errors that never carry a secret
// (anything the client sent as a password, key, cookie or credential value is redacted from
// n8n's message before it goes into an OperationError).

import { OperationError } from "../errors.js";

const TRACE = (process.env.BTW_TRACE ?? "").split(",").includes("n8n");
const DB_NOT_READY = /Database is not ready/;
/** How long a call waits out n8n's "Database is not ready!" (its database ping timed out). */
export const DB_NOT_READY_WAIT_MS = 60_000;

export const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_MESSAGE = 300;
const PAGE_LIMIT = 250;

/** plain: no auth (owner setup, login); rest: session cookie; public: X-N8N-API-KEY */
export type Api = "rest" | "public" | "plain";

export interface RequestSpec {
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
  /** a write that may be sent again when the connection is cut before an answer (a login: it changes nothing) */
  resendable?: boolean;
}

export interface Reply {
  status: number;
  json: unknown;
  headers: Headers;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class N8nHttp {
  readonly baseUrl: string;
  readonly label: string;
  readonly timeoutMs: number;
  readonly doFetch: typeof fetch;
  readonly apiKey: string | undefined;
  /** `n8n-auth=…` after setupOwner/login */
  cookie: string | undefined;
  /** values never to appear in an error message */
  readonly secrets = new Set<string>();

  constructor(opts: { baseUrl: string; label?: string; apiKey?: string; timeoutMs?: number; fetch?: typeof fetch }) {
    const u = new URL(opts.baseUrl);
    this.baseUrl = `${u.protocol}//${u.host}`;
    this.label = opts.label ?? `n8n at ${u.host}`;
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.doFetch = opts.fetch ?? fetch;
    if (opts.apiKey) this.secrets.add(opts.apiKey);
  }

  /** The same instance, session and redactions, another API key. */
  withApiKey(apiKey: string): N8nHttp {
    const h = new N8nHttp({ baseUrl: this.baseUrl, label: this.label, apiKey, timeoutMs: this.timeoutMs, fetch: this.doFetch });
    h.cookie = this.cookie;
    for (const s of this.secrets) h.secrets.add(s);
    return h;
  }

  async paginate(path: string, query: RequestSpec["query"], what: string): Promise<unknown[]> {
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

  /** How many calls in flight registered each temporary secret (calls may run at once). */
  private readonly tempSecrets = new Map<string, number>();

  async withDataSecrets<T>(data: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const added: string[] = [];
    for (const v of Object.values(data)) {
      // a secret registered for good stays; a temporary one is counted, so a call finishing
      // first never unmasks a value another call still carries
      if (typeof v !== "string" || v.length < 4 || (this.secrets.has(v) && !this.tempSecrets.has(v))) continue;
      this.secrets.add(v);
      this.tempSecrets.set(v, (this.tempSecrets.get(v) ?? 0) + 1);
      added.push(v);
    }
    try {
      return await fn();
    } finally {
      for (const v of added) {
        const left = (this.tempSecrets.get(v) ?? 1) - 1;
        if (left > 0) this.tempSecrets.set(v, left);
        else {
          this.tempSecrets.delete(v);
          this.secrets.delete(v);
        }
      }
    }
  }

  takeCookie(headers: Headers, what: string): string {
    const all = typeof headers.getSetCookie === "function" ? headers.getSetCookie() : [headers.get("set-cookie") ?? ""];
    for (const c of all) {
      const m = /^\s*(n8n-auth=[^;]+)/.exec(c);
      if (m) {
        this.cookie = m[1]!;
        this.secrets.add(m[1]!.slice("n8n-auth=".length));
        return m[1]!;
      }
    }
    throw new OperationError(`${this.label}: ${what} answered without a session cookie`, { code: "n8n-unexpected" });
  }

  /**
   * Through an SSH tunnel a connection can be cut before n8n answers (a forward opened while
   * the container restarts, a loaded host): an idempotent GET is retried, and a write marked
   * resendable (a login); any other write never is.
   */
  private async fetchRetrying(url: URL, spec: RequestSpec, headers: Record<string, string>, timeoutMs: number): Promise<Response> {
    const attempts = spec.method === "GET" || spec.resendable ? 4 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.doFetch(url, {
          method: spec.method,
          headers,
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: "manual",
        });
      } catch (e) {
        if (attempt >= attempts || isTimeout(e)) throw e;
        await sleep(500 * attempt);
      }
    }
  }

  async request(spec: RequestSpec): Promise<Reply> {
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
    const t0 = performance.now();
    let res: Response;
    let text: string;
    try {
      // n8n answers 503 "Database is not ready!" before any handler runs while its periodic
      // database ping has timed out (seen on loaded servers, for seconds): nothing was done,
      // so any call is sent again, for up to DB_NOT_READY_WAIT_MS.
      for (;;) {
        res = await this.fetchRetrying(url, spec, headers, timeoutMs);
        text = await res.text().catch(() => "");
        if (res.status !== 503 || !DB_NOT_READY.test(text) || performance.now() - t0 > DB_NOT_READY_WAIT_MS) break;
        if (TRACE) process.stderr.write(`[n8n] ${spec.method} ${spec.path} 503 database not ready: again in 1 s\n`);
        await sleep(1000);
      }
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
    // BTW_TRACE=n8n: one line per call (method, path, status, time; never headers or bodies)
    if (TRACE) process.stderr.write(`[n8n] ${spec.method} ${spec.path} ${res.status} ${Math.round(performance.now() - t0)} ms\n`);
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

  httpError(what: string, status: number, message: string, spec?: RequestSpec): OperationError {
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
export function errorMessage(json: unknown): string {
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
export function unwrap(json: unknown): unknown {
  return json && typeof json === "object" && "data" in json ? (json as { data: unknown }).data : json;
}


export function seconds(ms: number): string {
  return `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
}

export function enc(id: string): string {
  return encodeURIComponent(id);
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
}

export function describeFetchFailure(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code === "ECONNREFUSED") return "connection refused";
  if (cause?.code === "ECONNRESET") return "connection reset";
  if (isTimeout(e)) return "timed out";
  return cause?.code ?? (e instanceof Error ? e.message : String(e));
}
