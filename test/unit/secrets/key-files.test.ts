import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Ctx } from "../../../src/cli/context.js";
import { sealRecovery } from "../../../src/core/keys/recovery.js";
import { importRecovery, planImport } from "../../../src/ops/key/recovery.js";
import { packageRoot } from "../../../src/package-root.js";
import {
  addToKeyring,
  createMasterKeyFile,
  keyId,
  keyringDir,
  loadKeyring,
  loadMasterKey,
  masterKeyPath,
  replaceMasterKeyFile,
} from "../../../src/secrets/master-key.js";

// A zero-byte key file (a full disk, or a kill between open and write) used to break every
// command, and `btw init` / `key import` then left it as it was (issue 22). Key files are
// written aside and put into place whole; one that is empty or garbled anyway (by hand, by
// an older btw) is one clear error naming the file and the way back.

const fault = vi.hoisted(() => ({ write: null as string | null, rename: null as string | null }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const injected = (code: string) => Object.assign(new Error(`${code}: injected by the test`), { code });
  const writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (fault.write) throw injected(fault.write);
    return (fs.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync;
  const renameSync = ((from: string, to: string) => {
    if (fault.rename) throw injected(fault.rename);
    fs.renameSync(from, to);
  }) as typeof fs.renameSync;
  return { ...fs, default: { ...fs, writeSync, renameSync }, writeSync, renameSync };
});

const FAST = { N: 1024, r: 8, p: 1 };
const PASS = "a long enough passphrase";
const homes: string[] = [];
const home = () => {
  const d = mkdtempSync(join(tmpdir(), "btw-keys-"));
  homes.push(d);
  return d;
};
afterEach(() => {
  fault.write = null;
  fault.rename = null;
  for (const d of homes.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs `call` (on `m`, the master-key module) in a child that is SIGKILLed at its first write. */
function killedAtFirstWrite(h: string, call: string): NodeJS.Signals | null {
  const mod = pathToFileURL(join(packageRoot(), "src", "secrets", "master-key.ts")).href;
  const script = [
    `import fs from "node:fs"; import { syncBuiltinESMExports } from "node:module";`,
    `fs.writeSync = () => process.kill(process.pid, "SIGKILL"); syncBuiltinESMExports();`,
    `const m = await import(${JSON.stringify(mod)}); const home = ${JSON.stringify(h)};`,
    call,
  ].join("\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: packageRoot(), encoding: "utf8", timeout: 60_000 });
  return r.signal;
}

describe("key files are written aside and put into place whole", () => {
  it("a keyring write killed after its file is opened leaves the keyring readable; the re-run writes the key", () => {
    const h = home();
    const key = randomBytes(32);
    expect(killedAtFirstWrite(h, `m.addToKeyring(home, Buffer.from(${JSON.stringify(key.toString("hex"))}, "hex"));`)).toBe("SIGKILL");
    expect(loadKeyring(h).size).toBe(0);
    addToKeyring(h, key);
    expect(loadKeyring(h).get(keyId(key))?.equals(key)).toBe(true);
  });

  it("init killed while writing master.key leaves none (so the re-run creates it), not an empty one", () => {
    const h = home();
    expect(killedAtFirstWrite(h, "m.createMasterKeyFile(home);")).toBe("SIGKILL");
    expect(existsSync(masterKeyPath(h))).toBe(false);
    expect(createMasterKeyFile(h)).toBe(true);
    expect(loadMasterKey(h, {}).key).toHaveLength(32);
  });

  it("a full disk (ENOSPC) while adding to the keyring leaves nothing behind, and the error says so", () => {
    const h = home();
    const key = randomBytes(32);
    fault.write = "ENOSPC";
    expect(() => addToKeyring(h, key)).toThrow(/ENOSPC/);
    expect(readdirSync(keyringDir(h))).toEqual([]);
    fault.write = null;
    addToKeyring(h, key);
    expect(loadKeyring(h).get(keyId(key))?.equals(key)).toBe(true);
    expect(statSync(join(keyringDir(h), `${keyId(key)}.key`)).mode & 0o777).toBe(0o400);
  });

  it("a full disk while creating master.key leaves none", () => {
    const h = home();
    fault.write = "ENOSPC";
    expect(() => createMasterKeyFile(h)).toThrow(/ENOSPC/);
    expect(readdirSync(h)).toEqual([]);
    fault.write = null;
    expect(createMasterKeyFile(h)).toBe(true);
    expect(statSync(masterKeyPath(h)).mode & 0o777).toBe(0o600);
  });

  it("a replacement that fails before its rename leaves the old master.key in place, and no temp file", () => {
    const h = home();
    createMasterKeyFile(h);
    const before = readFileSync(masterKeyPath(h), "utf8");
    fault.rename = "EIO";
    expect(() => replaceMasterKeyFile(h, randomBytes(32))).toThrow(/EIO/);
    expect(readFileSync(masterKeyPath(h), "utf8")).toBe(before);
    expect(readdirSync(h)).toEqual(["master.key"]);
  });

  it("a temp file a killed run left (same pid: a container's btw often has one) is not what a replacement installs", () => {
    const h = home();
    createMasterKeyFile(h);
    writeFileSync(`${masterKeyPath(h)}.tmp-${process.pid}`, "", { mode: 0o600 });
    const next = randomBytes(32);
    replaceMasterKeyFile(h, next);
    expect(loadMasterKey(h, {}).id).toBe(keyId(next));
    expect(statSync(masterKeyPath(h)).mode & 0o777).toBe(0o600);
  });
});

describe("an empty or garbled key file is one clear error naming it and the way back", () => {
  const ringFile = (h: string, content: string) => {
    const id = keyId(randomBytes(32));
    mkdirSync(keyringDir(h), { recursive: true, mode: 0o700 });
    const path = join(keyringDir(h), `${id}.key`);
    writeFileSync(path, content, { mode: 0o400 });
    return path;
  };

  it.each([
    ["empty", "", /is empty/],
    ["garbled", "not a key at all\n", /holds no key/],
  ])("a keyring file that is %s", (_what, content, message) => {
    const h = home();
    createMasterKeyFile(h);
    const path = ringFile(h, content);
    let e: unknown;
    try {
      loadMasterKey(h, {});
    } catch (err) {
      e = err;
    }
    expect(e).toMatchObject({ exitCode: 2, code: "keyring-invalid", hint: expect.stringMatching(/btw key import/) });
    const m = (e as Error).message;
    expect(m).toContain(path);
    expect(m).toMatch(message);
    expect(m).not.toContain("\n");
  });

  it("an empty master.key", () => {
    const h = home();
    writeFileSync(masterKeyPath(h), "", { mode: 0o600 });
    expect(() => loadMasterKey(h, {})).toThrow(expect.objectContaining({
      exitCode: 2,
      message: expect.stringMatching(new RegExp(`^${masterKeyPath(h)} is empty`)),
      hint: expect.stringMatching(/btw key import/),
    }));
  });

  it("`btw key import` (the way back the hint names) repairs an empty keyring file and an empty master.key", async () => {
    const h = home();
    const current = randomBytes(32);
    const retired = randomBytes(32);
    mkdirSync(keyringDir(h), { recursive: true, mode: 0o700 });
    writeFileSync(join(keyringDir(h), `${keyId(retired)}.key`), "", { mode: 0o400 });
    writeFileSync(masterKeyPath(h), "", { mode: 0o600 });
    const f = await sealRecovery({ current, retired: [retired] }, PASS, keyId, FAST);
    const ctx = { home: h } as Ctx;
    expect(planImport(ctx, f)).toEqual({ imported: keyId(current), keys: [keyId(current), keyId(retired)], replaces: null });
    await importRecovery(ctx, f, PASS);
    const master = loadMasterKey(h, {});
    expect(master.id).toBe(keyId(current));
    expect(master.ring?.get(keyId(retired))?.equals(retired)).toBe(true);
  });
});
