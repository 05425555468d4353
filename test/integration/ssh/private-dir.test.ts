import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensurePrivateDir } from "../../../src/remote/private-dir.js";

const root = mkdtempSync("/tmp/btw-pd-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("ensurePrivateDir (control sockets and known_hosts live here)", () => {
  it("creates missing directories with mode 0700", () => {
    const dir = join(root, "a", "b", "cm");
    ensurePrivateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, "a")).mode & 0o777).toBe(0o700);
  });

  it("tightens an existing directory of ours to 0700", () => {
    const dir = join(root, "loose");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    ensurePrivateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("refuses a directory owned by another user", () => {
    const dir = join(root, "theirs");
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534); // the test runs as root (it also runs sshd)
    expect(codeOf(() => ensurePrivateDir(dir))).toBe("ssh-insecure-dir");
  });

  it("refuses a directory under a world-writable parent without the sticky bit", () => {
    const open = join(root, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(codeOf(() => ensurePrivateDir(join(open, "cm")))).toBe("ssh-insecure-dir");
  });

  it("accepts a world-writable parent with the sticky bit, like /tmp", () => {
    const sticky = join(root, "sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    expect(() => ensurePrivateDir(join(sticky, "cm"))).not.toThrow();
  });
});
