import { describe, expect, it } from "vitest";
import { N8nHttp } from "../../../src/remote/n8n-http.js";

// Credentials are now written at once (tenant create): two calls may carry the same secret
// value, and the first to finish must not unmask it while the other is still in flight.
describe("N8nHttp.withDataSecrets under concurrent calls", () => {
  const http = () => new N8nHttp({ baseUrl: "http://127.0.0.1:1", fetch: (() => Promise.reject(new Error("no network"))) as typeof fetch });

  it("keeps a value shared by two calls masked while the later one is still in flight", async () => {
    const h = http();
    let releaseFirst!: () => void;
    let releaseSecond!: () => void;
    const first = h.withDataSecrets({ token: "shared-secret", other: "only-first" }, () => new Promise<void>((r) => (releaseFirst = r)));
    const second = h.withDataSecrets({ token: "shared-secret" }, () => new Promise<void>((r) => (releaseSecond = r)));
    releaseFirst();
    await first;
    expect(h.secrets.has("shared-secret"), "the second call still carries it").toBe(true);
    expect(h.secrets.has("only-first")).toBe(false);
    releaseSecond();
    await second;
    expect(h.secrets.has("shared-secret")).toBe(false);
  });

  it("never removes a secret registered for good (a password, the API key)", async () => {
    const h = http();
    h.secrets.add("owner-password");
    await h.withDataSecrets({ password: "owner-password" }, async () => undefined);
    expect(h.secrets.has("owner-password")).toBe(true);
  });
});
