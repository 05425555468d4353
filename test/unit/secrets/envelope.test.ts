import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { open, openString, seal, sealedKeyId, SecretDecryptError } from "../../../src/secrets/envelope.js";
import { keyId, type MasterKey } from "../../../src/secrets/master-key.js";

const mk = (): MasterKey => {
  const key = randomBytes(32);
  return { id: keyId(key), key, source: "BTW_MASTER_KEY" };
};

describe("envelope encryption", () => {
  it("round-trips a value and never contains the plaintext", () => {
    const m = mk();
    const s = seal(m, "tenant:acme/PG", "s3cr3t-value-XYZ");
    expect(s).not.toContain("s3cr3t");
    expect(sealedKeyId(s)).toBe(m.id);
    expect(openString(m, "tenant:acme/PG", s)).toBe("s3cr3t-value-XYZ");
  });

  it("gives a different ciphertext each time (fresh IV and data key)", () => {
    const m = mk();
    expect(seal(m, "c", "v")).not.toBe(seal(m, "c", "v"));
  });

  it("refuses a wrong master key, naming both key ids", () => {
    const a = mk();
    const b = mk();
    const s = seal(a, "tenant:acme/PG", "x");
    expect(() => open(b, "tenant:acme/PG", s)).toThrow(SecretDecryptError);
    expect(() => open(b, "tenant:acme/PG", s)).toThrow(new RegExp(`${a.id}.*${b.id}`));
  });

  it("refuses a ciphertext moved to another context", () => {
    const m = mk();
    const s = seal(m, "tenant:acme/PG", "x");
    expect(() => open(m, "tenant:evil/PG", s)).toThrow(/failed authentication/);
  });

  it("refuses a flipped byte", () => {
    const m = mk();
    const s = seal(m, "c", "hello world");
    const parts = s.split(".");
    const data = Buffer.from(parts[5]!, "base64url");
    data[0]! ^= 1;
    parts[5] = data.toString("base64url");
    expect(() => open(m, "c", parts.join("."))).toThrow(/failed authentication/);
  });
});
