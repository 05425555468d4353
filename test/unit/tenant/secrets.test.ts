import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  SECRET_ALPHABET,
  TENANT_SECRET_PATTERN,
  generateTenantSecrets,
  isStrongOwnerPassword,
  randomString,
  type RandomBytes,
} from "../../../src/core/tenant/secrets.js";

/** A deterministic byte stream (SHA-256 in counter mode) standing in for crypto.randomBytes. */
function seeded(seed: string): RandomBytes {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (size) => {
    while (pool.length < size) pool = Buffer.concat([pool, createHash("sha256").update(`${seed}:${counter++}`).digest()]);
    const out = pool.subarray(0, size);
    pool = pool.subarray(size);
    return out;
  };
}

/** Replays the given bytes, then repeats the last one. */
function scripted(bytes: number[]): RandomBytes {
  let i = 0;
  return (size) => Uint8Array.from({ length: size }, () => bytes[Math.min(i++, bytes.length - 1)] ?? 0);
}

describe("randomString", () => {
  it("maps bytes onto the alphabet and discards the biased top (248–255 for 62 symbols)", () => {
    // 0→A, 61→9, 62→A again, 248/255 skipped, 247 → 247 % 62 = 61 → 9
    expect(randomString(scripted([0, 61, 62, 248, 255, 247, 1]), 5)).toBe("A9A9B");
  });

  it("gives a value of the requested length from the alphabet", () => {
    const s = randomString(seeded("x"), 100);
    expect(s).toHaveLength(100);
    expect([...s].every((c) => SECRET_ALPHABET.includes(c))).toBe(true);
  });

  it("fails instead of looping forever on a source that yields only unusable bytes", () => {
    expect(() => randomString(scripted([255]), 4)).toThrow("the random source returns too few usable bytes");
  });
});

describe("generateTenantSecrets", () => {
  it("generates env/URL-safe secrets of the documented lengths", () => {
    const s = generateTenantSecrets(seeded("tenant"));
    expect([s.postgresPassword.length, s.redisPassword.length, s.encryptionKey.length, s.ownerPassword.length]).toEqual([32, 32, 48, 24]);
    for (const v of [s.postgresPassword, s.redisPassword, s.encryptionKey]) expect(v).toMatch(TENANT_SECRET_PATTERN);
    expect(new Set([s.postgresPassword, s.redisPassword, s.encryptionKey, s.ownerPassword]).size).toBe(4);
  });

  it("always satisfies n8n's owner password rule", () => {
    for (let i = 0; i < 300; i++) expect(isStrongOwnerPassword(generateTenantSecrets(seeded(`s${i}`)).ownerPassword)).toBe(true);
  });

  it("draws the owner password again when a draw lacks a digit", () => {
    // 32+32+48 = 112 usable bytes for the first three secrets, then 24 letters (no digit), then a good draw.
    const lettersOnly = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 0 : 26)); // A, a, A, a…
    const good = [0, 26, 52, ...Array.from({ length: 21 }, () => 27)]; // A a 0 b b b…
    const s = generateTenantSecrets(scripted([...Array.from({ length: 112 }, () => 5), ...lettersOnly, ...good]));
    expect(s.ownerPassword).toBe(`Aa0${"b".repeat(21)}`);
  });

  it("is a pure function of the random source", () => {
    expect(generateTenantSecrets(seeded("same"))).toEqual(generateTenantSecrets(seeded("same")));
  });

  it("isStrongOwnerPassword follows n8n (8–64 chars, a digit, an uppercase) plus a lowercase", () => {
    expect(isStrongOwnerPassword("Abcdefg1")).toBe(true);
    expect(isStrongOwnerPassword("Abcdef1")).toBe(false);
    expect(isStrongOwnerPassword("abcdefg1")).toBe(false);
    expect(isStrongOwnerPassword("Abcdefgh")).toBe(false);
    expect(isStrongOwnerPassword("ABCDEFG1")).toBe(false);
    expect(isStrongOwnerPassword(`A1${"b".repeat(63)}`)).toBe(false);
  });
});
