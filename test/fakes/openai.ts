// FAKE OpenAI-compatible API for tests — not OpenAI. Speaks just enough of the real protocol
// for the btw workflows: POST /v1/chat/completions, POST /v1/images/generations,
// GET /v1/models, and GET /v1/files/<name>.png for images returned by URL.
//
// Chat answers are deterministic and chosen by what the prompt asks for:
//   - a prompt asking for a JSON object with "variations" (WF1) gets `variationCount`
//     (default 220) keyword variations of the seed named in `Seed keyword: "..."`;
//   - a prompt asking for "body_html" (WF3) gets an article about `Primary keyword: ...`;
//   - anything else gets {"echo": <last user message>}.
// Point an n8n `openAiApi` credential's `url` at `fake.baseUrl` (…/v1).

import { startFakeServer, type FakeServer, type FakeServerOptions, type RecordedRequest, type Reply } from "./http.js";

export interface FakeOpenAiOptions extends FakeServerOptions {
  /** the API key the fake accepts as `Authorization: Bearer …`; any key when undefined */
  apiKey?: string;
  variationCount?: number;
}

export interface FakeOpenAi extends FakeServer {
  /** base URL including /v1, what the openAiApi credential's `url` takes */
  readonly baseUrl: string;
  chatRequests(): RecordedRequest[];
  imageRequests(): RecordedRequest[];
  /** the next `count` chat/image calls answer with this HTTP status and an OpenAI error body */
  failNext(status: number, count?: number): void;
}

/** A valid 8×8 PNG (solid teal), small enough to inline; what every generated image is. */
export const FAKE_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEElEQVR42mNgaGjAjoaWBADiMEABsMU5DQAAAABJRU5ErkJggg==",
  "base64",
);

const PREFIXES = [
  "best", "cheap", "top", "how to choose", "buy", "affordable", "lightweight", "durable", "review of", "compare",
  "where to buy", "what are", "guide to", "beginner", "professional", "eco-friendly", "used", "discount", "premium", "custom",
];
const SUFFIXES = [
  "for women", "for men", "for kids", "2025", "online", "near me", "under 100", "reviews", "vs alternatives", "for beginners",
  "on sale", "size guide",
];

/** `count` distinct variations of `seed`: prefix × suffix combinations, then plain forms. */
export function keywordVariations(seed: string, count: number): string[] {
  const out: string[] = [];
  outer: for (const suffix of SUFFIXES) {
    for (const prefix of PREFIXES) {
      if (out.length >= count) break outer;
      out.push(`${prefix} ${seed} ${suffix}`);
    }
  }
  for (let i = 1; out.length < count; i++) out.push(`${seed} idea ${i}`);
  return out;
}

function slugify(s: string): string {
  return s
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80);
}

export function fakeArticle(primary: string, related: string[]): Record<string, unknown> {
  const title = `${primary.charAt(0).toUpperCase()}${primary.slice(1)}: the complete guide`;
  const outline = [`What to know about ${primary}`, ...related.map((k) => `About ${k}`), "Conclusion"];
  const body = outline.map((h) => `<h2>${h}</h2>\n<p>${h} — written by the fake OpenAI server.</p>`).join("\n");
  return {
    title,
    slug: slugify(primary),
    meta_description: `Everything about ${primary}: ${related.join(", ")}.`.slice(0, 155),
    outline,
    body_html: body,
  };
}

function messagesText(body: unknown): { all: string; lastUser: string } {
  const msgs = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
  const text = (c: unknown): string => (typeof c === "string" ? c : Array.isArray(c) ? c.map((p) => (p as { text?: string }).text ?? "").join(" ") : "");
  const users = msgs.filter((m) => m.role === "user");
  return { all: msgs.map((m) => text(m.content)).join("\n"), lastUser: text(users[users.length - 1]?.content) };
}

function chatAnswer(body: unknown, variationCount: number): object {
  const { all, lastUser } = messagesText(body);
  if (all.includes('"variations"')) {
    const seed = /Seed keyword:\s*"([^"]+)"/.exec(all)?.[1] ?? "keyword";
    return { variations: keywordVariations(seed, variationCount) };
  }
  if (all.includes('"body_html"')) {
    const primary = /Primary keyword:\s*(.+)/.exec(all)?.[1]?.trim() ?? "topic";
    const related = (/Related keywords:\s*(.+)/.exec(all)?.[1] ?? "")
      .split(";")
      .map((s) => s.trim())
      .filter(Boolean);
    return fakeArticle(primary, related);
  }
  return { echo: lastUser };
}

function openAiError(status: number, message: string, type = "invalid_request_error"): Reply {
  return { status, body: { error: { message, type, param: null, code: null } } };
}

export async function startFakeOpenAi(opts: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const variationCount = opts.variationCount ?? 220;
  let failures: { status: number; left: number } | undefined;
  let imageSeq = 0;
  let server: FakeServer | undefined;
  const completion = (model: string, content: string): object => ({
    id: `chatcmpl-fake-${Date.now()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    system_fingerprint: "fake",
  });

  server = await startFakeServer((req) => {
    if (opts.apiKey !== undefined && req.path.startsWith("/v1/") && !req.path.startsWith("/v1/files/")) {
      if (req.headers.authorization !== `Bearer ${opts.apiKey}`) {
        return openAiError(401, "Incorrect API key provided.", "invalid_api_key");
      }
    }
    const isCall = req.method === "POST" && (req.path === "/v1/chat/completions" || req.path === "/v1/images/generations");
    if (isCall && failures && failures.left > 0) {
      failures.left--;
      return openAiError(failures.status, `fake failure (HTTP ${failures.status})`, "server_error");
    }
    if (req.method === "GET" && req.path === "/v1/models") {
      return { status: 200, body: { object: "list", data: [{ id: "gpt-4o-mini", object: "model", owned_by: "fake" }, { id: "dall-e-3", object: "model", owned_by: "fake" }] } };
    }
    if (req.method === "POST" && req.path === "/v1/chat/completions") {
      const body = req.json as { model?: string; messages?: unknown[]; response_format?: { type?: string } } | undefined;
      if (!body?.model || !Array.isArray(body.messages)) return openAiError(400, "model and messages are required");
      return { status: 200, body: completion(body.model, JSON.stringify(chatAnswer(body, variationCount))) };
    }
    if (req.method === "POST" && req.path === "/v1/images/generations") {
      const body = req.json as { prompt?: string; model?: string; response_format?: string; n?: number } | undefined;
      if (!body?.prompt) return openAiError(400, "prompt is required");
      const n = Math.max(1, Math.min(4, body.n ?? 1));
      const data = Array.from({ length: n }, () => {
        imageSeq++;
        return body.response_format === "url"
          ? { url: `${server!.url}/v1/files/image-${imageSeq}.png`, revised_prompt: body.prompt }
          : { b64_json: FAKE_PNG.toString("base64"), revised_prompt: body.prompt };
      });
      return { status: 200, body: { created: Math.floor(Date.now() / 1000), data } };
    }
    if (req.method === "GET" && /^\/v1\/files\/image-\d+\.png$/.test(req.path)) {
      return { status: 200, headers: { "content-type": "image/png" }, body: FAKE_PNG };
    }
    return openAiError(404, `Unknown request URL: ${req.method} ${req.path}`);
  }, opts);

  const s = server;
  return {
    url: s.url,
    host: s.host,
    port: s.port,
    requests: s.requests,
    baseUrl: `${s.url}/v1`,
    close: () => s.close(),
    chatRequests: () => s.requests.filter((r) => r.path === "/v1/chat/completions"),
    imageRequests: () => s.requests.filter((r) => r.path === "/v1/images/generations"),
    failNext(status, count = 1) {
      failures = { status, left: count };
    },
  };
}
