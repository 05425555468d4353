import { describe, expect, it } from "vitest";
import { advisoryKey, advisoryKeyParts, describeLockKey, lockId } from "../../../src/state/lock-key.js";

describe("advisoryKey", () => {
  // Pinned: if the hash changed, an old and a new btw would "hold" the same tenant at once.
  it("is a stable signed 64-bit key per kind and name", () => {
    expect(advisoryKey({ kind: "tenant", name: "acme" })).toBe("-3045989876230923935");
    expect(advisoryKey({ kind: "migrate", name: "schema" })).toBe("2136577476140108568");
  });

  it("separates kinds and names (no 'tenant'+'a:b' vs 'tenant:a'+'b' clash)", () => {
    const keys = new Set([
      advisoryKey({ kind: "tenant", name: "acme" }),
      advisoryKey({ kind: "server", name: "acme" }),
      advisoryKey({ kind: "tenant", name: "acme2" }),
      advisoryKey({ kind: "bulk", name: "tenant\0acme" }),
    ]);
    expect(keys.size).toBe(4);
  });
});

describe("advisoryKeyParts", () => {
  it("splits the key the way pg_locks shows it (classid = high 32 bits, objid = low 32 bits, unsigned)", () => {
    expect(advisoryKeyParts("1")).toEqual({ classid: "0", objid: "1" });
    expect(advisoryKeyParts(String(2 ** 32))).toEqual({ classid: "1", objid: "0" });
    expect(advisoryKeyParts("-1")).toEqual({ classid: "4294967295", objid: "4294967295" });
    expect(advisoryKeyParts("-9223372036854775808")).toEqual({ classid: "2147483648", objid: "0" });
  });
});

describe("lock naming", () => {
  it("lockId and describeLockKey", () => {
    expect(lockId({ kind: "server", name: "fsn1-1" })).toBe("server:fsn1-1");
    expect(describeLockKey({ kind: "tenant", name: "acme" })).toBe("tenant 'acme'");
    expect(describeLockKey({ kind: "bulk", name: "backup-all" })).toBe("bulk operation 'backup-all'");
    expect(describeLockKey({ kind: "migrate", name: "schema" })).toBe("the state schema migration");
  });
});
