import { existsSync, statSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshControlArgs } from "../../../src/core/commands/ssh.js";
import type { SshClient } from "../../../src/remote/ssh.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { acceptedLogins, clientDirs, clientFor, rejection, type ClientDirs } from "./helpers.js";

let sshd: TestSshd;
let dirs: ClientDirs;
const servers: net.Server[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  dirs = clientDirs();
});

afterAll(async () => {
  for (const s of servers) s.close();
  await sshd?.stop();
  dirs?.cleanup();
});

/** A line-echo server ("pong:<line>") on a TCP port or unix socket: the "remote" service. */
async function echoServer(listen: { port: 0; host: "127.0.0.1" } | { path: string }): Promise<net.Server> {
  const srv = net.createServer((s) => {
    s.setEncoding("utf8");
    s.on("data", (d: string) => s.end(`pong:${d.trim()}\n`));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => srv.listen(listen, r));
  servers.push(srv);
  return srv;
}

function ask(connect: { port: number; host: string } | { path: string }, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(connect);
    let out = "";
    s.setEncoding("utf8");
    s.setTimeout(5000, () => s.destroy(new Error("timeout")));
    s.on("connect", () => s.write(`${line}\n`));
    s.on("data", (d: string) => (out += d));
    s.on("end", () => resolve(out));
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
}

describe("ControlMaster", () => {
  let ssh: SshClient;
  afterAll(() => ssh?.close());

  it("runs two commands over one authenticated connection", async () => {
    ssh = clientFor(sshd, dirs);
    const before = acceptedLogins(sshd);
    expect(await ssh.isConnected()).toBe(false);
    await ssh.run(["true"]);
    await ssh.run(["true"]);
    expect(acceptedLogins(sshd) - before).toBe(1);
    expect(statSync(ssh.controlPath).isSocket()).toBe(true);
    expect(await ssh.isConnected()).toBe(true);
    // ssh itself agrees: the same -O check an operator would type.
    const check = await execa("ssh", sshControlArgs(ssh.target, { knownHostsFile: dirs.knownHostsFile, controlPath: ssh.controlPath }, "check"), { reject: false });
    expect(check.exitCode).toBe(0);
  });

  it("shares one connection among concurrent commands after connect()", async () => {
    const before = acceptedLogins(sshd);
    await ssh.connect();
    const outs = await Promise.all([1, 2, 3, 4, 5].map((n) => ssh.run(["echo", String(n)])));
    expect(outs.map((o) => o.stdout)).toEqual(["1\n", "2\n", "3\n", "4\n", "5\n"]);
    expect(acceptedLogins(sshd) - before).toBe(0);
  });

  it("gives a client with another key its own master (a master skips auth for its clients)", async () => {
    const stranger = clientFor(sshd, dirs, { identityFile: sshd.strangerKey });
    expect(stranger.controlPath).not.toBe(ssh.controlPath);
    expect((await rejection(stranger.run(["true"]))).code).toBe("ssh-auth");
  });

  it("close() ends the master and removes its socket", async () => {
    await ssh.close();
    expect(await ssh.isConnected()).toBe(false);
    expect(existsSync(ssh.controlPath)).toBe(false);
  });
});

describe("forwarding over the master", () => {
  it("forwardTcp reaches a TCP service on the server's loopback, and close() removes it", async () => {
    const ssh = clientFor(sshd, dirs);
    try {
      const srv = await echoServer({ port: 0, host: "127.0.0.1" });
      const { port } = srv.address() as net.AddressInfo;
      const fwd = await ssh.forwardTcp("127.0.0.1", port);
      expect(fwd.localPort).not.toBe(port);
      expect(await ask({ host: "127.0.0.1", port: fwd.localPort }, "tcp")).toBe("pong:tcp\n");
      expect(await ask({ host: "127.0.0.1", port: fwd.localPort }, "again")).toBe("pong:again\n");
      await fwd.close();
      await expect(ask({ host: "127.0.0.1", port: fwd.localPort }, "x")).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await ssh.close();
    }
  });

  it("forwardUnixSocket reaches a unix socket on the server, and close() removes it", async () => {
    const ssh = clientFor(sshd, dirs);
    try {
      const remotePath = join(dirs.root, "remote.sock");
      await echoServer({ path: remotePath });
      const fwd = await ssh.forwardUnixSocket(remotePath);
      expect(fwd.localPath.startsWith(dirs.controlDir)).toBe(true);
      expect(await ask({ path: fwd.localPath }, "unix")).toBe("pong:unix\n");
      await fwd.close();
      expect(existsSync(fwd.localPath)).toBe(false);
    } finally {
      await ssh.close();
    }
  });

  it("keeps a forward alive past ControlPersist while it is open", async () => {
    const ssh = clientFor(sshd, dirs, { controlPersistSec: 1 });
    try {
      const remotePath = join(dirs.root, "remote2.sock");
      await echoServer({ path: remotePath });
      const fwd = await ssh.forwardUnixSocket(remotePath);
      await new Promise((r) => setTimeout(r, 2500));
      expect(await ssh.isConnected()).toBe(true);
      expect(await ask({ path: fwd.localPath }, "still")).toBe("pong:still\n");
      await fwd.close();
    } finally {
      await ssh.close();
    }
  });

  it("refuses to forward a socket that does not exist on the server", async () => {
    const ssh = clientFor(sshd, dirs);
    try {
      const err = await rejection(ssh.forwardUnixSocket(join(dirs.root, "nothing.sock")));
      expect(err.code).toBe("ssh-forward");
      expect(err.message).toBe(`no unix socket at ${join(dirs.root, "nothing.sock")} on server 'lab-1'`);
    } finally {
      await ssh.close();
    }
  });
});
