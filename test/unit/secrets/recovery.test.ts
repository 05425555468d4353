import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { formatIdentity, generateIdentity } from "../../../src/core/backup/age.js";
import { openRecovery, parseRecovery, sealRecovery } from "../../../src/core/keys/recovery.js";
import { open, seal } from "../../../src/secrets/envelope.js";
import { keyId } from "../../../src/secrets/master-key.js";

const FAST = { N: 1024, r: 8, p: 1 };
const PASS = "a long enough passphrase";

describe("recovery file", () => {
  it("round-trips the current key and the retired ones, and holds no key in clear", async () => {
    const current = randomBytes(32);
    const retired = [randomBytes(32), randomBytes(32)];
    const f = await sealRecovery({ current, retired }, PASS, keyId, FAST);
    const text = JSON.stringify(f);
    for (const k of [current, ...retired]) {
      expect(text).not.toContain(k.toString("base64"));
      expect(text).not.toContain(k.toString("hex"));
    }
    expect(f.keys).toEqual([current, ...retired].map(keyId));
    const back = await openRecovery(parseRecovery(text, "f"), PASS, keyId);
    expect(back.current.equals(current)).toBe(true);
    expect(back.retired.map((k) => k.toString("hex"))).toEqual(retired.map((k) => k.toString("hex")));
  });

  it("carries the backup recovery identities (sealed, current first); a file without them still opens", async () => {
    const recovery = [formatIdentity(generateIdentity()), formatIdentity(generateIdentity())];
    const f = await sealRecovery({ current: randomBytes(32), retired: [], recovery }, PASS, keyId, FAST);
    for (const r of recovery) expect(JSON.stringify(f)).not.toContain(r);
    expect((await openRecovery(f, PASS, keyId)).recovery).toEqual(recovery);
    const older = await sealRecovery({ current: randomBytes(32), retired: [] }, PASS, keyId, FAST);
    expect((await openRecovery(older, PASS, keyId)).recovery).toBeUndefined();
  });

  it("a wrong passphrase, an edited header (cheaper KDF, other key id) or a short passphrase are refused as usage errors", async () => {
    const f = await sealRecovery({ current: randomBytes(32), retired: [] }, PASS, keyId, FAST);
    await expect(openRecovery(f, "another long passphrase", keyId)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/wrong passphrase/) });
    await expect(openRecovery({ ...f, current: "000000000000" }, PASS, keyId)).rejects.toMatchObject({ exitCode: 2 });
    await expect(openRecovery({ ...f, kdf: { ...f.kdf, p: 2 } }, PASS, keyId)).rejects.toMatchObject({ exitCode: 2 });
    await expect(sealRecovery({ current: randomBytes(32), retired: [] }, "short", keyId, FAST)).rejects.toMatchObject({ exitCode: 2 });
    expect(() => parseRecovery("{}", "x")).toThrow(/not a btw recovery file/);
    expect(() => parseRecovery(JSON.stringify({ ...f, kdf: { ...f.kdf, N: 2 ** 30 } }), "x")).toThrow(/not a btw recovery file/);
  });
});

describe("envelope with a keyring", () => {
  it("opens a value sealed by a retired key held in the ring, and names the missing key otherwise", () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const sealed = seal({ id: keyId(oldKey), key: oldKey, source: "file" }, "ctx", "value");
    const withRing = { id: keyId(newKey), key: newKey, source: "file" as const, ring: new Map([[keyId(oldKey), oldKey]]) };
    expect(open(withRing, "ctx", sealed).toString()).toBe("value");
    expect(() => open({ id: keyId(newKey), key: newKey, source: "file" }, "ctx", sealed)).toThrow(new RegExp(`keyring does not hold ${keyId(oldKey)}`));
  });
});
