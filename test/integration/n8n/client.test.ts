// src/remote/n8n.ts against a real n8n (the lab's pinned 2.8.4) on 127.0.0.1 with its own
// PostgreSQL database. One n8n for the whole file.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checksum, toApiPayload, type WorkflowPayload } from "../../../src/core/workflows/payload.js";
import { OperationError } from "../../../src/errors.js";
import { N8nClient } from "../../../src/remote/n8n.js";
import { bootstrapN8n, freePort, N8N_START_TIMEOUT_MS, startN8n, testOwner, type TestN8n } from "../../support/n8n.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

let tdb: TestDatabase;
let n8n: TestN8n;
let boot: Awaited<ReturnType<typeof bootstrapN8n>>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  n8n = await startN8n({ databaseUrl: tdb.url });
  if (process.env.BTW_TEST_VERBOSE) process.stderr.write(`n8n client test: n8n ready in ${n8n.startMs} ms\n`);
  boot = await bootstrapN8n(n8n);
}, N8N_START_TIMEOUT_MS);

afterAll(async () => {
  await n8n?.stop();
  await tdb?.drop();
});

/** The OperationError a promise rejects with, checked to be one. */
async function failure(p: Promise<unknown>): Promise<OperationError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OperationError);
  return e as OperationError;
}

/** Everything an error shows: message, hint, details. */
const shown = (e: OperationError): string => `${e.message} ${e.hint ?? ""} ${JSON.stringify(e.details ?? {})}`;

function callerAndCallee(tag: string): { callee: WorkflowPayload; caller: (calleeId: string) => WorkflowPayload } {
  return {
    callee: {
      name: `callee ${tag}`,
      nodes: [
        { name: "Called", type: "n8n-nodes-base.executeWorkflowTrigger", typeVersion: 1.1, position: [0, 0], parameters: { inputSource: "passthrough" } },
        { name: "Answer", type: "n8n-nodes-base.code", typeVersion: 2, position: [220, 0], parameters: { jsCode: "return [{ json: { answered: true } }];" } },
      ],
      connections: { Called: { main: [[{ node: "Answer", type: "main", index: 0 }]] } },
      settings: { executionOrder: "v1" },
    },
    caller: (calleeId) => ({
      name: `caller ${tag}`,
      nodes: [
        { name: "Weekly", type: "n8n-nodes-base.scheduleTrigger", typeVersion: 1.2, position: [0, 0], parameters: { rule: { interval: [{ field: "cronExpression", expression: "0 2 * * 1" }] } } },
        {
          name: "Call",
          type: "n8n-nodes-base.executeWorkflow",
          typeVersion: 1.2,
          position: [220, 0],
          parameters: { source: "database", workflowId: { __rl: true, mode: "id", value: calleeId }, options: { waitForSubWorkflow: true } },
        },
      ],
      connections: { Weekly: { main: [[{ node: "Call", type: "main", index: 0 }]] } },
      settings: { executionOrder: "v1" },
    }),
  };
}

describe("readiness", () => {
  it("waitReady returns once /healthz/readiness answers 200", async () => {
    await new N8nClient({ baseUrl: n8n.url }).waitReady(5_000);
  });

  it("waitReady gives up with n8n-not-ready when nothing listens", async () => {
    const port = await freePort();
    const started = Date.now();
    const e = await failure(new N8nClient({ baseUrl: `http://127.0.0.1:${port}` }).waitReady(1_200, 200));
    expect(e.code).toBe("n8n-not-ready");
    expect(e.message).toMatch(/not ready after 1\.2 s \(connection refused\)/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("waitReady does not stop at /healthz/readiness: n8n mounts its API seconds later", async () => {
    // what n8n 2.8.4 looks like between readiness and the API being mounted
    const early = http.createServer((req, res) => {
      res.writeHead(req.url === "/healthz/readiness" ? 200 : 404, { "content-type": "text/html" });
      res.end(req.url === "/healthz/readiness" ? '{"status":"ok"}' : "<!DOCTYPE html>");
    });
    await new Promise<void>((r) => early.listen(0, "127.0.0.1", () => r()));
    try {
      const { port } = early.address() as AddressInfo;
      const e = await failure(new N8nClient({ baseUrl: `http://127.0.0.1:${port}` }).waitReady(800, 100));
      expect(e.message).toMatch(/REST API not mounted yet: \/rest\/settings answered HTTP 404/);
    } finally {
      early.closeAllConnections();
      await new Promise<void>((r) => early.close(() => r()));
    }
  });
});

describe("owner and API key", () => {
  it("setupOwner is idempotent: the second call logs in instead", async () => {
    const again = new N8nClient({ baseUrl: n8n.url });
    expect(again.hasSession).toBe(false);
    expect(await again.setupOwner(boot.owner)).toEqual({ created: false });
    expect(again.hasSession).toBe(true);
    expect((await again.listApiKeys()).map((k) => k.label)).toContain("btw-test");
  });

  it("setupOwner on a set-up instance with another password fails without showing it", async () => {
    const wrong = { ...boot.owner, password: "Wrong-Passw0rd-xyz" };
    const e = await failure(new N8nClient({ baseUrl: n8n.url }).setupOwner(wrong));
    expect(e.code).toBe("n8n-unauthorized");
    expect(e.message).toMatch(/login failed: HTTP 401/);
    expect(shown(e)).not.toContain(wrong.password);
  });

  it("the API key works on the public API", async () => {
    expect(Array.isArray(await boot.api.listWorkflows())).toBe(true);
  });

  it("a second key with the same label is refused unless replaced; replacing revokes the old one", async () => {
    const first = await boot.session.createApiKey("rotate-me");
    const e = await failure(boot.session.createApiKey("rotate-me"));
    expect(e.code).toBe("n8n-api-key-exists");
    const second = await boot.session.createApiKey("rotate-me", { replaceExisting: true });
    expect(second).not.toBe(first);
    expect(await new N8nClient({ baseUrl: n8n.url, apiKey: second }).listCredentials()).toBeInstanceOf(Array);
    const revoked = await failure(new N8nClient({ baseUrl: n8n.url, apiKey: first }).listCredentials());
    expect(revoked.code).toBe("n8n-unauthorized");
    expect((await boot.session.listApiKeys()).filter((k) => k.label === "rotate-me")).toHaveLength(1);
  });

  it("a wrong API key fails with n8n-unauthorized, a hint, and not the key", async () => {
    const key = `not-a-key-${Date.now()}`;
    const e = await failure(new N8nClient({ baseUrl: n8n.url, apiKey: key }).listWorkflows());
    expect(e.code).toBe("n8n-unauthorized");
    expect(e.message).toMatch(/list workflows failed: HTTP 401/);
    expect(e.hint).toMatch(/API key/);
    expect(e.details).toMatchObject({ status: 401, method: "GET", path: "/api/v1/workflows" });
    expect(shown(e)).not.toContain(key);
  });

  it("internal-API calls without a session and public-API calls without a key fail before any request", async () => {
    const bare = new N8nClient({ baseUrl: n8n.url });
    expect((await failure(bare.listApiKeys())).code).toBe("n8n-no-session");
    expect((await failure(bare.listWorkflows())).code).toBe("n8n-no-api-key");
  });

  it("a password n8n rejects as too weak is not echoed", async () => {
    const weak = { ...testOwner(), password: "weakpass" };
    const e = await failure(new N8nClient({ baseUrl: n8n.url }).setupOwner(weak));
    expect(shown(e)).not.toContain(weak.password);
  });
});

describe("credentials", () => {
  const secret = `sk-test-${Date.now()}-secret`;

  it("create, find by name, update, delete", async () => {
    const created = await boot.api.createCredential({ name: "btw OpenAI", type: "openAiApi", data: { apiKey: secret, url: "http://127.0.0.1:9/v1", header: false } });
    expect(created).toMatchObject({ name: "btw OpenAI", type: "openAiApi" });
    expect(created.id).toMatch(/\S/);
    expect(await boot.api.findCredentialByName("btw OpenAI")).toMatchObject({ id: created.id, type: "openAiApi" });
    expect(await boot.api.findCredentialByName("btw OpenAI", "wordpressApi")).toBeNull();

    const updated = await boot.api.updateCredential(created.id, { name: "btw OpenAI", type: "openAiApi", data: { apiKey: `${secret}-2`, url: "http://127.0.0.1:9/v1", header: false } });
    expect(updated.id).toBe(created.id);

    await boot.api.deleteCredential(created.id);
    expect(await boot.api.findCredentialByName("btw OpenAI")).toBeNull();
  });

  it("a rejected credential's error carries n8n's reason but none of its data", async () => {
    const e = await failure(boot.api.createCredential({ name: "bad", type: "openAiApi", data: { apiKey: secret, bogus: "x" } }));
    expect(e.code).toBe("n8n-http");
    expect(e.message).toMatch(/create credential 'bad' failed: HTTP 400 .*additional property "bogus"/);
    expect(shown(e)).not.toContain(secret);

    const t = await failure(boot.api.createCredential({ name: "bad", type: "noSuchType", data: { apiKey: secret } }));
    expect(t.message).toMatch(/HTTP 400 .*not a known type/);
    expect(shown(t)).not.toContain(secret);
  });

  it("two credentials with one name are reported, not guessed between", async () => {
    const a = await boot.api.createCredential({ name: "twin", type: "wordpressApi", data: { url: "http://127.0.0.1:9", username: "u", password: "p", allowUnauthorizedCerts: false } });
    const b = await boot.api.createCredential({ name: "twin", type: "wordpressApi", data: { url: "http://127.0.0.1:9", username: "u", password: "p", allowUnauthorizedCerts: false } });
    expect((await failure(boot.api.findCredentialByName("twin"))).code).toBe("n8n-credential-ambiguous");
    await boot.api.deleteCredential(a.id);
    await boot.api.deleteCredential(b.id);
  });
});

describe("workflows", () => {
  it("create then update keeps the id; what n8n returns has the checksum btw sent", async () => {
    const { callee } = callerAndCallee("update");
    const created = await boot.api.createWorkflow(callee);
    expect(created.active).toBe(false);
    expect(checksum(toApiPayload(created))).toBe(checksum(callee));

    const changed: WorkflowPayload = structuredClone(callee);
    changed.nodes[1]!.parameters = { jsCode: "return [{ json: { answered: 2 } }];" };
    const updated = await boot.api.updateWorkflow(created.id, changed);
    expect(updated.id).toBe(created.id);
    const live = await boot.api.getWorkflow(created.id);
    expect(checksum(toApiPayload(live))).toBe(checksum(changed));
    expect(checksum(toApiPayload(live))).not.toBe(checksum(callee));

    expect((await boot.api.listWorkflows({ name: callee.name })).map((w) => w.id)).toEqual([created.id]);
    await boot.api.deleteWorkflow(created.id);
    expect(await boot.api.findWorkflow(created.id)).toBeNull();
    expect((await failure(boot.api.getWorkflow(created.id))).code).toBe("n8n-not-found");
  });

  it("a caller cannot be published before its sub-workflow; sub-workflow first works", async () => {
    const { callee, caller } = callerAndCallee("publish");
    const sub = await boot.api.createWorkflow(callee);
    const main = await boot.api.createWorkflow(caller(sub.id));

    const e = await failure(boot.api.activateWorkflow(main.id));
    expect(e.message).toMatch(/publish workflow .* failed: HTTP 400 .*not published/);

    expect((await boot.api.activateWorkflow(sub.id)).active).toBe(true);
    expect((await boot.api.activateWorkflow(main.id)).active).toBe(true);
    expect((await boot.api.listWorkflows({ active: true })).map((w) => w.id)).toEqual(expect.arrayContaining([sub.id, main.id]));

    // an update of a published workflow stays published (2.x re-publishes it)
    const again = await boot.api.updateWorkflow(main.id, { ...caller(sub.id), name: "caller publish v2" });
    expect(again.id).toBe(main.id);
    expect((await boot.api.getWorkflow(main.id)).active).toBe(true);

    expect((await boot.api.deactivateWorkflow(main.id)).active).toBe(false);
  });

  it("runs a schedule-triggered workflow now, through its sub-workflow, and waits for it", async () => {
    const { callee, caller } = callerAndCallee("run");
    const sub = await boot.api.createWorkflow(callee);
    const main = await boot.api.createWorkflow(caller(sub.id));
    const executionId = await boot.api.runWorkflow(main.id, "Weekly");
    const done = await boot.api.waitForExecution(executionId, 30_000);
    expect(done).toMatchObject({ id: executionId, workflowId: main.id, status: "success", mode: "manual" });
    const subRuns = await boot.api.listExecutions({ workflowId: sub.id });
    expect(subRuns.map((r) => [r.status, r.mode])).toEqual([["success", "integrated"]]);
  });

  it("tags: ensureTag is idempotent and setWorkflowTags replaces the tags", async () => {
    const { callee } = callerAndCallee("tags");
    const wf = await boot.api.createWorkflow(callee);
    const a = await boot.api.ensureTag("btw");
    expect((await boot.api.ensureTag("btw")).id).toBe(a.id);
    const b = await boot.api.ensureTag("btw:wf2");
    expect((await boot.api.setWorkflowTags(wf.id, [a.id, b.id])).map((t) => t.name).sort()).toEqual(["btw", "btw:wf2"]);
    expect((await boot.api.setWorkflowTags(wf.id, [b.id])).map((t) => t.name)).toEqual(["btw:wf2"]);
    expect((await boot.api.getWorkflowTags(wf.id)).map((t) => t.id)).toEqual([b.id]);
  });

  it("a workflow the API refuses names n8n's reason", async () => {
    const e = await failure(boot.api.createWorkflow({ name: "bad", nodes: [], connections: {}, settings: { notASetting: true } }));
    expect(e.message).toMatch(/create workflow 'bad' failed: HTTP 400 .*settings must NOT have additional properties/);
  });
});

describe("transport failures", () => {
  it("a request that gets no answer times out with n8n-timeout", async () => {
    const silent = http.createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const { port } = silent.address() as AddressInfo;
    try {
      const e = await failure(new N8nClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k-secret-1234", timeoutMs: 300 }).listWorkflows());
      expect(e.code).toBe("n8n-timeout");
      expect(e.message).toBe(`n8n at 127.0.0.1:${port}: list workflows timed out after 0.3 s`);
      expect(shown(e)).not.toContain("k-secret-1234");
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("a closed port fails with n8n-unreachable and a hint about the tunnel", async () => {
    const port = await freePort();
    const e = await failure(new N8nClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", label: "n8n of tenant 'acme'" }).listWorkflows());
    expect(e.code).toBe("n8n-unreachable");
    expect(e.message).toBe("n8n of tenant 'acme': list workflows failed: connection refused");
    expect(e.hint).toMatch(/tunnel/);
  });

  it("a secret n8n echoes back in an error is redacted, and the message is capped", async () => {
    // a misbehaving server that quotes the request body in its error
    const echo = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `rejected ${body} with key ${req.headers["x-n8n-api-key"]} ${"x".repeat(500)}` }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    const { port } = echo.address() as AddressInfo;
    try {
      const client = new N8nClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "key-abcdef-123" });
      const e = await failure(client.createCredential({ name: "c", type: "openAiApi", data: { apiKey: "sk-live-very-secret" } }));
      expect(e.message).toMatch(/^n8n at 127\.0\.0\.1:\d+: create credential 'c' failed: HTTP 400 rejected /);
      expect(e.message).toContain("[REDACTED]");
      expect(shown(e)).not.toMatch(/sk-live-very-secret|key-abcdef-123/);
      expect(e.message.length).toBeLessThan(450);
    } finally {
      echo.closeAllConnections();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
