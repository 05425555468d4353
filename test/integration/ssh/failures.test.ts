import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startSshd, type TestSshd } from "../../support/sshd.js";
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

describe("ssh connection failures map to typed errors", () => {
  it("a closed port is ssh-unreachable (connection refused), quickly", async () => {
    const port = await freePort(); // nothing listens there now
    const ssh = clientFor(sshd, dirs, { port });
    const started = Date.now();
    const err = await rejection(ssh.run(["true"]));
    expect(err.code).toBe("ssh-unreachable");
    expect(err.message).toBe(`cannot reach server 'lab-1' at 127.0.0.1:${port}: connection refused`);
    expect(err.hint).toBe("check the server's address, SSH port and firewall, then: btw server check lab-1");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a server that never answers is ssh-unreachable (timed out) after ConnectTimeout", async () => {
    // Accepts TCP but never sends an SSH banner: the loopback stand-in for a black hole.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const ssh = clientFor(sshd, dirs, { port, connectTimeoutSec: 1 });
      const started = Date.now();
      const err = await rejection(ssh.run(["true"]));
      expect(err.code).toBe("ssh-unreachable");
      expect(err.message).toBe(`cannot reach server 'lab-1' at 127.0.0.1:${port}: connection timed out`);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("a key the server does not accept is ssh-auth, naming the key and the remedy", async () => {
    const ssh = clientFor(sshd, dirs, { identityFile: sshd.strangerKey });
    const err = await rejection(ssh.run(["true"]));
    expect(err.code).toBe("ssh-auth");
    expect(err.message).toBe(
      `server 'lab-1' at 127.0.0.1:${sshd.port} refused SSH login as '${sshd.user}' with the key ${sshd.strangerKey}`,
    );
    expect(err.hint).toContain("ssh-add");
    expect(err.hint).toContain("--ssh-key");
    expect(err.hint).toContain("btw server check lab-1");
  });

  it("the accepted key still works against the same server (the failures above were not the server)", async () => {
    const ssh = clientFor(sshd, dirs);
    try {
      expect((await ssh.run(["echo", "ok"])).stdout).toBe("ok\n");
    } finally {
      await ssh.close();
    }
  });
});
