import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../../src/core/commands/files.js";
import { hostFacts, parseHostFacts } from "../../../src/core/commands/host-facts.js";
import type { SshClient } from "../../../src/remote/ssh.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { clientDirs, clientFor, rejection, type ClientDirs } from "./helpers.js";

let sshd: TestSshd;
let dirs: ClientDirs;
let ssh: SshClient;

beforeAll(async () => {
  sshd = await startSshd();
  dirs = clientDirs();
  ssh = clientFor(sshd, dirs);
});

afterAll(async () => {
  await ssh?.close();
  await sshd?.stop();
  dirs?.cleanup();
});

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("SshClient.run against a real sshd", () => {
  it("returns stdout, stderr and exit code 0", async () => {
    const r = await ssh.run(["sh", "-c", "echo out; echo err >&2"]);
    expect(r).toEqual({ stdout: "out\n", stderr: "err\n", exitCode: 0 });
  });

  it("delivers hostile arguments verbatim, one word each", async () => {
    const argv = [
      "; rm -rf /", "$(id)", "`id`", "${HOME}", "it's", "\"dq\"", "a\nb", "\\", "", " ", "*", "~", "#x",
      "-n", "--", "a|b&c>d<e", "日本語 😀", "'; echo pwned; '",
    ];
    const r = await ssh.run(["printf", "%s\\0", ...argv]);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(argv);
  });

  it("carries a 5 MB binary stdin intact (Buffer)", async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const r = await ssh.run(["sha256sum"], { input: data });
    expect(r.stdout.split(" ")[0]).toBe(sha256(data));
  });

  it("carries a 5 MB stdin intact (Readable stream)", async () => {
    const chunks = Array.from({ length: 80 }, () => randomBytes(64 * 1024));
    const r = await ssh.run(["sh", "-c", "wc -c; sha256sum"], { input: Readable.from(chunks) });
    // wc consumes stdin first, so sha256sum sees nothing; check both numbers separately.
    expect(r.stdout.split("\n")[0]?.trim()).toBe(String(80 * 64 * 1024));
    const again = await ssh.run(["sha256sum"], { input: Readable.from(chunks) });
    expect(again.stdout.split(" ")[0]).toBe(sha256(Buffer.concat(chunks)));
  });

  it("fails a non-zero remote exit with remote-command, first words and last stderr line", async () => {
    const err = await rejection(ssh.run(["sh", "-c", "echo first >&2; echo 'the last line' >&2; exit 3"]));
    expect(err.code).toBe("remote-command");
    expect(err.message).toBe("remote command 'sh -c' failed on server 'lab-1' (exit 3): the last line");
  });

  it("never puts stdin into the error message", async () => {
    const err = await rejection(ssh.run(["sh", "-c", "cat >/dev/null; exit 1"], { input: "SECRET_VALUE=hunter2\n" }));
    expect(err.code).toBe("remote-command");
    expect(JSON.stringify(err)).not.toContain("hunter2");
    expect(err.message).not.toContain("hunter2");
  });

  it("returns a failure instead of throwing with allowFailure", async () => {
    const r = await ssh.run(["sh", "-c", "echo no >&2; exit 7"], { allowFailure: true });
    expect(r).toEqual({ stdout: "", stderr: "no\n", exitCode: 7 });
  });

  it("times out with remote-timeout", async () => {
    const started = Date.now();
    const err = await rejection(ssh.run(["sleep", "3"], { timeoutMs: 300 }));
    expect(err.code).toBe("remote-timeout");
    expect(err.message).toBe("remote command 'sleep' on server 'lab-1' timed out after 300 ms");
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("refuses an empty argv (ssh would open a login shell)", async () => {
    expect((await rejection(ssh.run([]))).code).toBe("invalid-argument");
  });

  it("writes a file atomically with its mode over the same connection", async () => {
    const path = `${dirs.root}/remote-files/a b/.env`;
    await ssh.run(["mkdir", "-p", "--", `${dirs.root}/remote-files/a b`]);
    await ssh.run(writeFileAtomic(path, "0600"), { input: "N8N_ENCRYPTION_KEY=x'y\"z\n" });
    const r = await ssh.run(["sh", "-c", 'stat -c %a "$1"; cat "$1"; ls -A "$(dirname "$1")"', "sh", path]);
    expect(r.stdout).toBe("600\nN8N_ENCRYPTION_KEY=x'y\"z\n.env\n");
  });

  it("collects host facts the parser understands", async () => {
    const facts = parseHostFacts((await ssh.run(hostFacts())).stdout);
    expect(facts.cpus).toBeGreaterThan(0);
    expect(facts.memTotalBytes).toBeGreaterThan(0);
    expect(facts.kernel).not.toBe("");
  });
});

describe("SshClient.spawn", () => {
  it("streams 5 MB through stdin and back out of stdout", async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const p = ssh.spawn(["cat"]);
    const chunks: Buffer[] = [];
    p.stdout.on("data", (c: Buffer) => chunks.push(c));
    p.stdin.end(data);
    const r = await p.result();
    expect(r.exitCode).toBe(0);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
  });

  it("maps a failing stream to remote-command with the stderr tail", async () => {
    const p = ssh.spawn(["sh", "-c", "echo boom >&2; exit 4"]);
    p.stdin.end();
    p.stdout.resume();
    const err = await rejection(p.result());
    expect(err.code).toBe("remote-command");
    expect(err.message).toBe("remote command 'sh -c' failed on server 'lab-1' (exit 4): boom");
  });

  it("stops a long-running stream promptly", async () => {
    const p = ssh.spawn(["sh", "-c", "echo started; exec sleep 30"]);
    p.stdin.end();
    await new Promise<void>((resolve) => p.stdout.once("data", () => resolve()));
    const started = Date.now();
    p.stop();
    expect((await rejection(p.result())).code).toBe("remote-stopped");
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
