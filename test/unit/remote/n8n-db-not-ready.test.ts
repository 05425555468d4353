import { describe, expect, it } from "vitest";
import { N8nClient } from "../../../src/remote/n8n.js";

// n8n answers 503 "Database is not ready!" from a middleware, before any handler, while its
// periodic database ping has timed out (a loaded server): the call did nothing and is sent again.
// Seen in the e2e suite: a create's workflow read and a restore's check failed on it.
describe("n8n's 'Database is not ready!' is waited out", () => {
  const notReadyThen = (times: number, status = 503, message = "Database is not ready!") => {
    const calls: string[] = [];
    const fetch = (async (url: URL, init: RequestInit) => {
      calls.push(`${init.method} ${new URL(String(url)).pathname}`);
      if (calls.length <= times) return new Response(JSON.stringify({ code: status, message }), { status });
      return new Response(JSON.stringify({ data: [], nextCursor: null }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    return { calls, client: new N8nClient({ baseUrl: "http://127.0.0.1:1", fetch }).withApiKey("key") };
  };

  it("sends the call again until n8n's database is back", async () => {
    const { calls, client } = notReadyThen(2);
    await expect(client.listWorkflows()).resolves.toEqual([]);
    expect(calls).toEqual(["GET /api/v1/workflows", "GET /api/v1/workflows", "GET /api/v1/workflows"]);
  });

  it("does not resend other 503s", async () => {
    const { calls, client } = notReadyThen(1, 503, "Service Unavailable");
    await expect(client.listWorkflows()).rejects.toThrow(/HTTP 503/);
    expect(calls).toHaveLength(1);
  });
});
