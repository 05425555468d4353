import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../../src/state/audit.js";

describe("redactSecrets (audit details)", () => {
  it("replaces values under secret-looking keys at any depth and keeps the rest", () => {
    expect(
      redactSecrets({
        plan: "pro",
        password: "p",
        ownerPassword: "p",
        POSTGRES_PASSWORD: "p",
        apiKey: "k",
        api_key: "k",
        N8N_ENCRYPTION_KEY: "k",
        token: "t",
        nested: { secret: "s", keyId: "k1", list: [{ privateKey: "x", name: "n" }] },
        at: new Date(0),
      }),
    ).toEqual({
      plan: "pro",
      password: "[REDACTED]",
      ownerPassword: "[REDACTED]",
      POSTGRES_PASSWORD: "[REDACTED]",
      apiKey: "[REDACTED]",
      api_key: "[REDACTED]",
      N8N_ENCRYPTION_KEY: "[REDACTED]",
      token: "[REDACTED]",
      nested: { secret: "[REDACTED]", keyId: "k1", list: [{ privateKey: "[REDACTED]", name: "n" }] },
      at: new Date(0),
    });
  });

  it("leaves empty values alone (nothing to hide, and the key's presence stays visible)", () => {
    expect(redactSecrets({ password: null, token: "" })).toEqual({ password: null, token: "" });
  });
});
