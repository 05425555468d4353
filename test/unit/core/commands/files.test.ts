import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WRITE_FILE_ATOMIC_SCRIPT, mkdirP, removeTree, writeFileAtomic } from "../../../../src/core/commands/files.js";
import { shellJoin } from "../../../../src/core/shell.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("mkdirP", () => {
  it("builds mkdir -p with -- before the path", () => {
    expect(mkdirP("/opt/btw/tenants/acme")).toEqual(["mkdir", "-p", "--", "/opt/btw/tenants/acme"]);
  });

  it("sets the mode of the last directory when asked", () => {
    expect(mkdirP("/opt/btw/tenants/acme", "0700")).toEqual(["mkdir", "-p", "-m", "0700", "--", "/opt/btw/tenants/acme"]);
  });

  it.each(["", "relative/dir", "/opt/../etc", "/opt/./x", "//etc"])("refuses the path %j", (p) => {
    expect(codeOf(() => mkdirP(p))).toBe("unsafe-remote-path");
  });

  it("refuses a mode that is not octal", () => {
    expect(codeOf(() => mkdirP("/opt/btw", "u+rwx"))).toBe("invalid-mode");
  });
});

describe("writeFileAtomic", () => {
  it("passes path and mode as positional arguments of a constant script", () => {
    expect(writeFileAtomic("/opt/btw/tenants/acme/.env", "0600")).toEqual([
      "sh",
      "-c",
      'umask 077; t="$1.btw-tmp.$$"; trap \'rm -f "$t"\' EXIT; cat > "$t" && chmod "$2" "$t" && mv -f "$t" "$1"',
      "sh",
      "/opt/btw/tenants/acme/.env",
      "0600",
    ]);
  });

  it("keeps a hostile path out of the script text", () => {
    const argv = writeFileAtomic("/opt/btw/x; rm -rf ~/$(id)", "0644");
    expect(argv[2]).toBe(WRITE_FILE_ATOMIC_SCRIPT);
    expect(argv[4]).toBe("/opt/btw/x; rm -rf ~/$(id)");
  });

  it.each([["/", "0600"], ["", "0600"], ["/etc", "0600"], ["rel/x", "0600"], ["/opt/btw/x", "600; id"], ["/opt/btw/x", "0800"]])(
    "refuses path %j with mode %j",
    (p, mode) => {
      expect(codeOf(() => writeFileAtomic(p, mode))).toMatch(/^(unsafe-remote-path|invalid-mode)$/);
    },
  );

  // The script is the only shell text we write by hand; run it through sh locally the way
  // the remote shell will (shellJoin → sh -c) to prove it does what it says.
  const dir = mkdtempSync(join(tmpdir(), "btw-files-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes stdin to the path with the mode and leaves no temp file (real sh)", () => {
    const target = join(dir, "it's a $(file).env");
    const r = spawnSync("sh", ["-c", shellJoin(writeFileAtomic(target, "0640"))], { input: "A=1\nB='x y'\n" });
    expect(r.status).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("A=1\nB='x y'\n");
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["it's a $(file).env"]);
  });

  it("fails, keeps the old file and removes the temp file when chmod fails (real sh)", () => {
    const target = join(dir, "keep.env");
    spawnSync("sh", ["-c", shellJoin(writeFileAtomic(target, "0600"))], { input: "old" });
    // Bypass the builder's mode check to make chmod fail inside the script.
    const argv = [...writeFileAtomic(target, "0600")];
    argv[5] = "not-a-mode";
    const r = spawnSync("sh", ["-c", shellJoin(argv)], { input: "new" });
    expect(r.status).not.toBe(0);
    expect(readFileSync(target, "utf8")).toBe("old");
    expect(readdirSync(dir).filter((f) => f.includes("btw-tmp"))).toEqual([]);
  });
});

describe("removeTree", () => {
  it("builds rm -rf with -- before the path", () => {
    expect(removeTree("/opt/btw/tenants/acme")).toEqual(["rm", "-rf", "--", "/opt/btw/tenants/acme"]);
  });

  it.each(["", "/", "//", "/opt", "/opt/", "opt/btw", "/opt/btw/..", "/opt/btw/../..", "/opt//btw", "/opt/btw\0x"])(
    "refuses %j",
    (p) => {
      expect(codeOf(() => removeTree(p))).toBe("unsafe-remote-path");
    },
  );

  it("accepts a trailing slash on a deep path", () => {
    expect(removeTree("/opt/btw/")).toEqual(["rm", "-rf", "--", "/opt/btw/"]);
  });
});
