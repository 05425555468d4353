import { describe, expect, it } from "vitest";
import { N8nClient, retryAfterMs } from "../../../src/remote/n8n.js";

// n8n 2.x (production mode) lets one account log in 5 times a minute and answers 429 with
// Retry-After beyond: a rotation re-run after re-run logs in that often, so login waits the
// throttle out — within a bound.
describe("n8n login under n8n's per-account throttle", () => {
  const throttledThenOk = (throttled: number, retryAfter: string) => {
    const calls: string[] = [];
    const fetch = (async (url: URL) => {
      calls.push(String(url));
      if (calls.length <= throttled) return new Response(JSON.stringify({ message: "Too many requests" }), { status: 429, headers: { "retry-after": retryAfter } });
      return new Response("{}", { status: 200, headers: { "set-cookie": "n8n-auth=session-token; Path=/; HttpOnly" } });
    }) as unknown as typeof globalThis.fetch;
    return { calls, client: new N8nClient({ baseUrl: "http://127.0.0.1:1", fetch }) };
  };

  it("waits out a 429 (Retry-After) and logs in", async () => {
    const { calls, client } = throttledThenOk(2, "0");
    expect(await client.login("owner@acme.example", "Secret-Pw1")).toBe("n8n-auth=session-token");
    expect(calls).toHaveLength(3);
    expect(client.hasSession).toBe(true);
  });

  it("gives up at once when the throttle lasts longer than it may wait, saying so without the password", async () => {
    const { calls, client } = throttledThenOk(5, "120");
    const e = (await client.login("owner@acme.example", "Secret-Pw1").catch((err: unknown) => err)) as Error & { details?: { status?: number } };
    expect(e.message).toMatch(/login failed: HTTP 429 Too many requests/);
    expect(e.message).not.toContain("Secret-Pw1");
    expect(e.details?.status).toBe(429);
    expect(calls).toHaveLength(1);
  });

  it("sends the login again when the connection is cut before an answer (UND_ERR_SOCKET after a recreate); a workflow create is never sent twice", async () => {
    let n = 0;
    const cut = () => Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) });
    const fetch = (async (url: URL) => {
      n++;
      if (n === 1) throw cut();
      if (String(url).endsWith("/rest/login")) return new Response("{}", { status: 200, headers: { "set-cookie": "n8n-auth=s2; Path=/; HttpOnly" } });
      throw cut();
    }) as unknown as typeof globalThis.fetch;
    const client = new N8nClient({ baseUrl: "http://127.0.0.1:1", fetch });
    expect(await client.login("owner@acme.example", "Secret-Pw1")).toBe("n8n-auth=s2");
    expect(n).toBe(2);
    n = 1;
    const writes = client.withApiKey("k");
    await expect(writes.createWorkflow({ name: "x", nodes: [], connections: {}, settings: {} } as never)).rejects.toThrow(/UND_ERR_SOCKET|other side closed|failed/);
    expect(n).toBe(2); // one attempt only
  });

  it("reads Retry-After in seconds only", () => {
    expect(retryAfterMs("42")).toBe(42_000);
    expect(retryAfterMs(null)).toBeNull();
    expect(retryAfterMs("Wed, 21 Oct 2026 07:28:00 GMT")).toBeNull();
  });
});
