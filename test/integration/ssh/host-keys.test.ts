import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprint, forgetHostKey, scanHostKey } from "../../../src/remote/known-hosts.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { clientDirs, clientFor, rejection, type ClientDirs } from "./helpers.js";

let sshd: TestSshd;
let dirs: ClientDirs;

beforeAll(async () => {
  sshd = await startSshd();
  dirs = clientDirs();
});

afterAll(async () => {
  await sshd?.stop();
  dirs?.cleanup();
});

// One story, in order: pin on first contact, refuse a changed key, re-pin after forgetting.
describe("host key pinning in the btw known_hosts", () => {
  let firstKey = "";

  it("has nothing pinned before first contact", async () => {
    expect(await fingerprint(dirs.knownHostsFile, sshd.host, sshd.port)).toEqual([]);
  });

  it("pins the server's key on first contact", async () => {
    const ssh = clientFor(sshd, dirs);
    await ssh.run(["true"]);
    await ssh.close();
    firstKey = await sshd.hostKeyFingerprint();
    expect(await fingerprint(dirs.knownHostsFile, sshd.host, sshd.port)).toEqual([{ type: "ED25519", fingerprint: firstKey }]);
    // Plain, not hashed: one readable line per host:port.
    expect(readFileSync(dirs.knownHostsFile, "utf8")).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `));
  });

  it("scanHostKey shows what the server presents now", async () => {
    expect(await scanHostKey(sshd.host, sshd.port)).toEqual([{ type: "ED25519", fingerprint: firstKey }]);
  });

  it("refuses a changed host key with ssh-host-key-changed and the re-pin hint", async () => {
    await sshd.restartWithNewHostKey();
    const newKey = await sshd.hostKeyFingerprint();
    expect(newKey).not.toBe(firstKey);

    const ssh = clientFor(sshd, dirs);
    const err = await rejection(ssh.run(["true"]));
    expect(err.code).toBe("ssh-host-key-changed");
    expect(err.message).toBe(`host key of server 'lab-1' at 127.0.0.1:${sshd.port} has changed: refusing to connect`);
    expect(err.hint).toContain("btw server trust lab-1");
    expect(err.details?.presentedFingerprint).toBe(newKey);
    // The old pin is untouched; the scan shows the new key — what `btw server trust` prints.
    expect(await fingerprint(dirs.knownHostsFile, sshd.host, sshd.port)).toEqual([{ type: "ED25519", fingerprint: firstKey }]);
    expect(await scanHostKey(sshd.host, sshd.port)).toEqual([{ type: "ED25519", fingerprint: newKey }]);
  });

  it("forgetHostKey + reconnect pins the new key", async () => {
    expect(await forgetHostKey(dirs.knownHostsFile, sshd.host, sshd.port)).toBe(true);
    expect(await fingerprint(dirs.knownHostsFile, sshd.host, sshd.port)).toEqual([]);
    const ssh = clientFor(sshd, dirs);
    expect((await ssh.run(["echo", "again"])).stdout).toBe("again\n");
    await ssh.close();
    const newKey = await sshd.hostKeyFingerprint();
    expect(await fingerprint(dirs.knownHostsFile, sshd.host, sshd.port)).toEqual([{ type: "ED25519", fingerprint: newKey }]);
  });

  it("forgetting an unknown host changes nothing and says so", async () => {
    expect(await forgetHostKey(dirs.knownHostsFile, "127.0.0.1", 1)).toBe(false);
    expect(await forgetHostKey(`${dirs.root}/missing/known_hosts`, "127.0.0.1", 1)).toBe(false);
  });
});
