import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { alterRolePasswordSql, dockerPsqlStdin, scramVerifier } from "../../../src/core/tenant/scram.js";
import { ageDays, rotationDue } from "../../../src/core/tenant/secret-rotation.js";

describe("SCRAM-SHA-256 verifier", () => {
  // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations;
  // the server's signature over the exchange proves the ServerKey the verifier holds.
  it("holds the keys of RFC 7677's example exchange", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const v = scramVerifier("pencil", salt);
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v)!;
    expect(m[1]).toBe("W22ZaJ0SNY7soEsUEjb6gQ==");
    const authMessage =
      "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const serverSignature = createHmac("sha256", Buffer.from(m[3]!, "base64")).update(authMessage).digest("base64");
    expect(serverSignature).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });

  it("puts only the verifier into the SQL, never the password; psql reads it from stdin", () => {
    const sql = alterRolePasswordSql(scramVerifier("s3cret-password", Buffer.alloc(16, 1)));
    expect(sql).toMatch(/^ALTER ROLE n8n PASSWORD 'SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+';\n$/);
    expect(sql).not.toContain("s3cret-password");
    expect(() => alterRolePasswordSql("plain'; drop table x; --")).toThrow();
    expect(dockerPsqlStdin("btw-acme-postgres", "n8n")).toEqual([
      "docker", "exec", "-i", "btw-acme-postgres", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", "n8n", "-d", "n8n", "-f", "-",
    ]);
  });
});

describe("rotation due", () => {
  const now = new Date("2026-06-01T00:00:00Z");
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
  it("is due when any rotated secret reached the age; operator secrets and the encryption key do not count", () => {
    expect(rotationDue([{ name: "POSTGRES_PASSWORD", valueSetAt: daysAgo(10) }, { name: "N8N_API_KEY", valueSetAt: daysAgo(90) }], now, 90)).toBe(true);
    expect(rotationDue([{ name: "POSTGRES_PASSWORD", valueSetAt: daysAgo(89) }, { name: "N8N_ENCRYPTION_KEY", valueSetAt: daysAgo(400) }, { name: "OPENAI_API_KEY", valueSetAt: daysAgo(400) }], now, 90)).toBe(false);
    expect(ageDays(daysAgo(3.5), now)).toBe(3);
  });
});
