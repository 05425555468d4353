// src/remote/n8n.ts against a real n8n 2.6.4 (the lab's n8nPrevious, the version before the
// public API could list credentials) on 127.0.0.1 with its own PostgreSQL database: what a
// secrets rotation and an in-place restore need from it (issue 22 item 2) — credentials
// listed, updated and created as the owner whatever the API key is, and a second API key
// beside the first until the first is deleted. One n8n for the whole file.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresCredential } from "../../../src/core/workflows/credentials.js";
import { OperationError } from "../../../src/errors.js";
import { N8nClient } from "../../../src/remote/n8n.js";
import { N8N_PREVIOUS } from "../../lab/config.js";
import { bootstrapN8n, N8N_START_TIMEOUT_MS, startN8n, type TestN8n } from "../../support/n8n.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

let tdb: TestDatabase;
let n8n: TestN8n;
let boot: Awaited<ReturnType<typeof bootstrapN8n>>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  n8n = await startN8n({ databaseUrl: tdb.url, version: N8N_PREVIOUS });
  boot = await bootstrapN8n(n8n);
}, N8N_START_TIMEOUT_MS);

afterAll(async () => {
  await n8n?.stop();
  await tdb?.drop();
});

const pgData = (user: string, password: string) => postgresCredential("btw Postgres", { host: "postgres", port: 5432, database: "n8n", user, password }).data;
const ownerClient = (apiKey?: string) =>
  new N8nClient({ baseUrl: n8n.url, label: "n8n 2.6.4", ...(apiKey ? { apiKey } : {}) }).withOwnerLogin(boot.owner.email, boot.owner.password);

// n8n (production mode) lets an account log in 5 times a minute: one owner client for the file
let ownerOnly: N8nClient | undefined;
const owner = () => (ownerOnly ??= ownerClient());

/** The stored data as the editor sees it (secret fields blanked), read with the bootstrap session. */
async function storedData(id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${n8n.url}/rest/credentials/${id}?includeData=true`, { headers: { cookie: await sessionCookie() } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { data: Record<string, unknown> } }).data.data;
}
let cookie: string | undefined;
async function sessionCookie(): Promise<string> {
  if (!cookie) cookie = await new N8nClient({ baseUrl: n8n.url }).login(boot.owner.email, boot.owner.password);
  return cookie;
}

describe("credentials on n8n 2.6.4", () => {
  it("its public API cannot list credentials: with the API key alone the list fails with HTTP 405 (what made rotation fail there)", async () => {
    const e = await new N8nClient({ baseUrl: n8n.url, apiKey: boot.apiKey }).listCredentials().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OperationError);
    expect((e as OperationError).details?.status).toBe(405);
  });

  it("with the owner's login the list falls back to the internal API", async () => {
    const created = await boot.api.createCredential({ name: "btw Postgres (list)", type: "postgres", data: pgData("n8n", "first-password-1") });
    const client = ownerClient(boot.apiKey);
    expect((await client.listCredentials()).find((c) => c.id === created.id)).toMatchObject({ name: "btw Postgres (list)", type: "postgres" });
  });

  it("as the owner, with no API key or a revoked one: list, update (the data replaced) and create", async () => {
    const created = await boot.api.createCredential({ name: "btw Postgres", type: "postgres", data: pgData("n8n", "old-password-1") });
    const dead = await boot.session.createApiKey("soon revoked");
    const keys = await boot.session.listApiKeys();
    await boot.session.deleteApiKey(keys.find((k) => k.label === "soon revoked")!.id);
    for (const [i, client] of [owner(), ownerClient(dead)].entries()) {
      const all = await client.listCredentialsAsOwner();
      const found = client.pickCredential(all, "btw Postgres", "postgres");
      expect(found?.id).toBe(created.id);
      const updated = await client.updateCredentialAsOwner(found!.id, { name: "btw Postgres", type: "postgres", data: pgData(`role${i}`, `new-password-${i}`) });
      expect(updated.id).toBe(created.id);
      expect(await storedData(created.id)).toMatchObject({ user: `role${i}`, host: "postgres", database: "n8n" });
    }
    const made = await owner().createCredentialAsOwner({ name: "btw Postgres (made)", type: "postgres", data: pgData("n8n", "made-password-1") });
    expect((await owner().listCredentialsAsOwner()).some((c) => c.id === made.id && c.name === "btw Postgres (made)")).toBe(true);
  });

  it("a client without the owner's login is refused before any request", async () => {
    const e = await new N8nClient({ baseUrl: n8n.url }).listCredentialsAsOwner().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((e as OperationError).code).toBe("n8n-no-session");
  });
});

describe("API keys on n8n 2.6.4, as a rotation replaces them", () => {
  it("a second key under another label works beside the first; deleting the first revokes only it", async () => {
    const session = owner();
    const first = await session.createApiKey("btw rotation 1");
    const second = await session.createApiKey("btw rotation 2");
    const withKey = (k: string) => new N8nClient({ baseUrl: n8n.url, apiKey: k });
    await withKey(first).listWorkflows();
    await withKey(second).listWorkflows();
    const keys = await session.listApiKeys();
    await session.deleteApiKey(keys.find((k) => k.label === "btw rotation 1")!.id);
    const e = await withKey(first).listWorkflows().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((e as OperationError).code).toBe("n8n-unauthorized");
    await withKey(second).listWorkflows();
  });
});
