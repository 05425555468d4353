// A real OpenSSH server on 127.0.0.1 for integration tests. Keys, config, pid file and logs
// live in a fresh temp dir; nothing outside it changes except /run/sshd (the privilege
// separation dir sshd insists on) and, once per machine, installing openssh-server.
//
//   const sshd = await startSshd();
//   new SshClient({ name: "lab-1", host: sshd.host, port: sshd.port, user: sshd.user,
//                   identityFile: sshd.clientKey, knownHostsFile, controlDir });
//   await sshd.restartWithNewHostKey();   // same port, new host key
//   await sshd.stop();

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort, launchOnFreePort, stopChild } from "./processes.js";

export const SSHD_BIN = "/usr/sbin/sshd";

export interface TestSshd {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** the local user sshd lets in (root here) */
  readonly user: string;
  /** temp dir holding everything; removed by stop() */
  readonly dir: string;
  /** private key listed in authorized_keys */
  readonly clientKey: string;
  /** a private key that is NOT authorized (for the refused-key test) */
  readonly strangerKey: string;
  /** `SHA256:…` of the current host key */
  hostKeyFingerprint(): Promise<string>;
  /** sshd's own log (stderr), for assertion messages */
  log(): string;
  restartWithNewHostKey(): Promise<void>;
  stop(): Promise<void>;
}

let installed = false;

// Test files run in parallel workers: only one may run apt-get at a time (dpkg lock), and the
// others must wait for it rather than fail. The script re-checks under the lock.
const INSTALL_SCRIPT =
  "test -x /usr/sbin/sshd && exit 0; " +
  "echo 'test/support/sshd: /usr/sbin/sshd missing, installing openssh-server with apt-get' >&2; " +
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-server >/dev/null";

/** Make sure /usr/sbin/sshd exists, installing openssh-server with apt-get if it does not. */
export function ensureSshdInstalled(): void {
  if (installed || existsSync(SSHD_BIN)) {
    installed = true;
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const r = spawnSync("flock", ["-w", "600", "/tmp/btw-sshd-install.lock", "sh", "-c", INSTALL_SCRIPT], {
    env,
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
  });
  process.stderr.write(r.stderr ?? "");
  if (r.error || r.status !== 0) {
    throw new Error(`installing openssh-server failed (exit ${r.status}): ${r.error?.message ?? r.stderr.trim()}`);
  }
  if (!existsSync(SSHD_BIN)) throw new Error("openssh-server installed but /usr/sbin/sshd is still missing");
  installed = true;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Generate an ed25519 key pair at `file` (and `file.pub`). */
export function generateKey(file: string, comment = "btw-test"): void {
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
}

export { freePort };

/** Resolves once something on host:port answers with an SSH banner. */
function readsBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once("error", () => done(false));
    sock.once("data", (d) => done(d.toString("latin1").startsWith("SSH-")));
  });
}

export async function startSshd(): Promise<TestSshd> {
  ensureSshdInstalled();
  if (process.getuid?.() === 0) await mkdir("/run/sshd", { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(path.join(os.tmpdir(), "btw-sshd-"));
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  const strangerKey = path.join(dir, "stranger_ed25519");
  const authorizedKeys = path.join(dir, "authorized_keys");
  const config = path.join(dir, "sshd_config");
  const user = os.userInfo().username;

  generateKey(hostKey, "btw-test-host");
  generateKey(clientKey, "btw-test-client");
  generateKey(strangerKey, "btw-test-stranger");
  await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o600 });

  let child: ChildProcess | undefined;
  let logText = "";
  let port = 0;

  const writeConfig = () =>
    writeFile(
      config,
      [
        "ListenAddress 127.0.0.1",
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "AllowTcpForwarding yes",
        "AllowStreamLocalForwarding yes",
        "StreamLocalBindUnlink yes",
        "MaxStartups 50",
        "MaxSessions 50",
        "PrintMotd no",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );

  const launch = async (): Promise<void> => {
    await writeConfig();
    const proc = spawn(SSHD_BIN, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (d: string) => {
      logText = (logText + d).slice(-20_000);
    });
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const early = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 50))]);
      if (early !== "running") throw new Error(`sshd exited with ${early} on start:\n${logText}`);
      if (await readsBanner(port)) return;
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`sshd did not accept connections on 127.0.0.1:${port} within 10 s:\n${logText}`);
      }
    }
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    await stopChild(proc, "SIGTERM", 3000);
  };

  port = await launchOnFreePort(
    async (p) => {
      port = p;
      await launch();
    },
    halt,
    () => rm(dir, { recursive: true, force: true }),
  );

  return {
    host: "127.0.0.1",
    get port() {
      return port;
    },
    user,
    dir,
    clientKey,
    strangerKey,
    async hostKeyFingerprint() {
      return run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKey}.pub`]).split(" ")[1] ?? "";
    },
    log: () => logText,
    async restartWithNewHostKey() {
      await halt();
      await rm(hostKey, { force: true });
      await rm(`${hostKey}.pub`, { force: true });
      generateKey(hostKey, "btw-test-host-2");
      await launch();
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
