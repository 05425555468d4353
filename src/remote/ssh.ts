// The OpenSSH client: every remote command btw runs goes through `SshClient.run`/`spawn`.
// It shells out to the system `ssh` (so the operator's agent and ~/.ssh/config keep
// working), shares one ControlMaster connection per server, pins host keys in a btw-managed
// known_hosts, and is the only place an argv array becomes a command string (shellJoin).

import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import net from "node:net";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { execa, type Result, type ResultPromise } from "execa";
import {
  controlPathFor,
  sshArgs,
  sshControlArgs,
  sshForwardArgs,
  tcpForwardSpec,
  unixForwardSpec,
  type SshArgsOptions,
  type SshTarget,
} from "../core/commands/ssh.js";
import { shellJoin } from "../core/shell.js";
import { OperationError, UsageError } from "../errors.js";
import { ensurePrivateDir } from "./private-dir.js";
import {
  describeArgv,
  lastLine,
  remoteCommandError,
  remoteTimeoutError,
  sshConnectionError,
  sshMissingError,
  type SshErrorContext,
} from "./ssh-errors.js";

export { sshArgs } from "../core/commands/ssh.js";
export type { SshTarget } from "../core/commands/ssh.js";

export interface SshClientOptions {
  /** the server's name in btw, used in messages and hints */
  name: string;
  host: string;
  port: number;
  user: string;
  /** a private key file; omitted → ssh-agent / ~/.ssh/config decide */
  identityFile?: string;
  /** btw-managed known_hosts (e.g. $BTW_HOME/known_hosts) */
  knownHostsFile: string;
  /** the known_hosts file is rendered from the state's pins: refuse any key not in it */
  strictHostKeys?: boolean;
  /** where ControlMaster sockets live; keep it short (see defaultControlDir) */
  controlDir: string;
  connectTimeoutSec?: number;
  /** how long an idle master outlives its last session (default 60) */
  controlPersistSec?: number;
}

/**
 * Every remote command is bounded: a frozen server (a stopped dockerd, a hung disk) must not
 * hang btw. Long jobs (pulls, restores) pass their own, longer deadline.
 */
export const DEFAULT_REMOTE_TIMEOUT_MS = 10 * 60_000;

/** `ssh -O check|forward|cancel|exit` talk to the local master only: a master that does not answer in this long is hung. */
const CONTROL_TIMEOUT_MS = 30_000;

export interface RunOptions {
  /** sent to the remote command's stdin; never appears in messages */
  input?: string | Buffer | Readable;
  /** default DEFAULT_REMOTE_TIMEOUT_MS; Infinity for none */
  timeoutMs?: number;
  /** return a non-zero remote exit instead of throwing (ssh's own failures still throw) */
  allowFailure?: boolean;
}

export interface SshResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface SpawnOptions {
  /** allocate a remote TTY (`ssh -tt`), for interactive `tenant exec` */
  tty?: boolean;
}

/** A streaming remote command: the execa subprocess plus `result()`, which maps failures. */
export type SshProcess = ResultPromise<typeof SPAWN_OPTIONS> & {
  /** waits for exit; resolves with the exit code and stderr tail, or throws a typed error */
  result(opts?: { allowFailure?: boolean }): Promise<SshResult>;
  /** stop now (see abandon); result() then rejects with `remote-stopped` */
  stop(): void;
};

const SPAWN_OPTIONS = {
  stdin: "pipe",
  stdout: "pipe",
  stderr: "pipe",
  buffer: false,
  reject: false,
} as const;

export interface UnixSocketForward {
  /** a local unix socket that reaches the remote one (e.g. for dockerode's socketPath) */
  localPath: string;
  close(): Promise<void>;
}

export interface TcpForward {
  /** 127.0.0.1:<localPort> reaches the remote host:port */
  localPort: number;
  close(): Promise<void>;
}

/** `/tmp/btw-<uid>/cm`: short enough for unix socket paths even where $TMPDIR is long (macOS). */
export function defaultControlDir(): string {
  return `/tmp/btw-${process.getuid?.() ?? "user"}/cm`;
}

export class SshClient {
  readonly name: string;
  readonly target: SshTarget;
  /** the ControlMaster socket this client uses (`ssh -O check -o ControlPath=…`) */
  readonly controlPath: string;
  private readonly opts: SshClientOptions;
  private readonly argsOpts: SshArgsOptions;
  private readonly ctx: SshErrorContext;
  private dirsReady = false;
  private connecting: Promise<void> | undefined;
  private readonly forwards = new Set<{ close(): Promise<void> }>();

  constructor(opts: SshClientOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.target = { host: opts.host, port: opts.port, user: opts.user };
    this.controlPath = controlPathFor(opts.controlDir, this.target, opts);
    this.argsOpts = {
      knownHostsFile: opts.knownHostsFile,
      ...(opts.strictHostKeys ? { strictHostKeys: true } : {}),
      controlPath: this.controlPath,
      ...(opts.identityFile === undefined ? {} : { identityFile: opts.identityFile }),
      ...(opts.connectTimeoutSec === undefined ? {} : { connectTimeoutSec: opts.connectTimeoutSec }),
      ...(opts.controlPersistSec === undefined ? {} : { controlPersistSec: opts.controlPersistSec }),
    };
    this.ctx = { server: opts.name, ...this.target, ...(opts.identityFile ? { identityFile: opts.identityFile } : {}) };
    // Validate host/port/user now rather than on first use.
    sshArgs(this.target, this.argsOpts);
  }

  /**
   * Run argv on the server; resolves when it exits. Throws typed errors (see ssh-errors.ts).
   * The first command opens the shared master itself (ControlMaster=auto); call connect()
   * first when fanning out many commands at once so they all share one connection.
   */
  run(argv: readonly string[], opts: RunOptions = {}): Promise<SshResult> {
    return this.exec(argv, opts);
  }

  /**
   * Start argv on the server and stream: write to `.stdin`, read `.stdout`. Call
   * `.result()` to wait for the exit and get typed errors. Uses the shared master when one
   * is up, else becomes it.
   */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): SshProcess {
    this.prepareDirs();
    const child = execa("ssh", [opts.tty ? "-tt" : "-T", ...sshArgs(this.target, this.argsOpts), this.command(argv)], SPAWN_OPTIONS);
    let stderrTail = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      stderrTail = (stderrTail + d).slice(-8192);
    });
    let stopped = false;
    return Object.assign(child, {
      result: async (o: { allowFailure?: boolean } = {}): Promise<SshResult> => {
        const r = await child;
        if (stopped) {
          throw new OperationError(`remote command '${describeArgv(argv)}' on server '${this.name}' was stopped`, {
            code: "remote-stopped",
          });
        }
        return this.settle(argv, r, { stdout: "", stderr: stderrTail }, o.allowFailure ?? false);
      },
      stop: () => {
        stopped = true;
        abandon(child);
      },
    });
  }

  /** Open (or reuse) the shared master connection. Concurrent callers share one attempt. */
  async connect(): Promise<void> {
    // Only the attempt in flight is shared: a master can expire (ControlPersist) or die later.
    this.connecting ??= (async () => {
      if (!(await this.isConnected())) await this.exec(["true"], {});
    })().finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  /** Whether a master connection for this client is up (`ssh -O check`). */
  async isConnected(): Promise<boolean> {
    this.prepareDirs();
    const r = await execa("ssh", sshControlArgs(this.target, this.argsOpts, "check"), { reject: false, stdin: "ignore", timeout: CONTROL_TIMEOUT_MS });
    return r.exitCode === 0;
  }

  /** Close forwards opened here and end the shared master (`ssh -O exit`). */
  async close(): Promise<void> {
    await Promise.all([...this.forwards].map((f) => f.close()));
    await execa("ssh", sshControlArgs(this.target, this.argsOpts, "exit"), { reject: false, stdin: "ignore", timeout: CONTROL_TIMEOUT_MS });
  }

  /**
   * Forward a local unix socket to `remotePath` (e.g. /var/run/docker.sock) over the shared
   * master. A "keeper" session holds the master open while the forward lives: ControlPersist
   * does not count forwardings as activity.
   */
  async forwardUnixSocket(remotePath: string): Promise<UnixSocketForward> {
    await this.connect();
    const probe = await this.exec(["test", "-S", remotePath], { allowFailure: true, timeoutMs: 60_000 });
    if (probe.exitCode !== 0) {
      throw new OperationError(`no unix socket at ${remotePath} on server '${this.name}'`, {
        code: "ssh-forward",
        hint: `is the service running there? check with: btw server check ${this.name}`,
      });
    }
    const localPath = `${this.opts.controlDir.replace(/\/+$/, "")}/f-${randomBytes(6).toString("hex")}.sock`;
    const spec = unixForwardSpec(localPath, remotePath);
    const release = await this.addForward(spec);
    let closed = false;
    const handle: UnixSocketForward = {
      localPath,
      close: async () => {
        if (closed) return;
        closed = true;
        this.forwards.delete(handle);
        await release();
        rmSync(localPath, { force: true });
      },
    };
    this.forwards.add(handle);
    return handle;
  }

  /** Forward 127.0.0.1:<free port> to remoteHost:remotePort as seen from the server. */
  async forwardTcp(remoteHost: string, remotePort: number): Promise<TcpForward> {
    await this.connect();
    for (let attempt = 1; ; attempt++) {
      const localPort = await freeLoopbackPort();
      try {
        const release = await this.addForward(tcpForwardSpec(localPort, remoteHost, remotePort));
        let closed = false;
        const handle: TcpForward = {
          localPort,
          close: async () => {
            if (closed) return;
            closed = true;
            this.forwards.delete(handle);
            await release();
          },
        };
        this.forwards.add(handle);
        return handle;
      } catch (e) {
        // Someone may have taken the port between our probe and ssh's bind.
        if (attempt >= 3) throw e;
      }
    }
  }

  private async addForward(spec: string): Promise<() => Promise<void>> {
    // The keeper says "ready" once its session is up: only then is the master sure to outlive
    // ControlPersist (or, if the master had just expired, the keeper has become the new one).
    const keeper = execa("ssh", ["-T", ...sshArgs(this.target, this.argsOpts), shellJoin(["sh", "-c", "echo ready; exec cat"])], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "ignore",
      reject: false,
    });
    const attached = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 30_000);
      keeper.stdout.once("data", () => {
        clearTimeout(timer);
        resolve(true);
      });
      void keeper.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    keeper.stdout.resume();
    // A forgotten close() must not keep the CLI alive; when this process exits, the keeper's
    // stdin closes, its remote `cat` ends and the master may persist out.
    keeper.unref();
    (keeper.stdin as unknown as { _handle?: { unref?: () => void } })._handle?.unref?.();
    const stopKeeper = async () => {
      keeper.stdin.end();
      const timer = setTimeout(() => abandon(keeper), 2000);
      await keeper;
      clearTimeout(timer);
    };
    const r = attached
      ? await execa("ssh", sshForwardArgs(this.target, this.argsOpts, "forward", spec), { reject: false, stdin: "ignore", timeout: CONTROL_TIMEOUT_MS })
      : { exitCode: -1, stderr: "the keeper session did not start" };
    if (r.exitCode !== 0) {
      await stopKeeper();
      throw new OperationError(`cannot set up a forwarding to server '${this.name}': ${lastLine(r.stderr) || ("timedOut" in r && r.timedOut ? `its SSH master did not answer within ${CONTROL_TIMEOUT_MS / 1000} s` : `exit ${r.exitCode}`)}`, {
        code: "ssh-forward",
        hint: `check the connection with: btw server check ${this.name}`,
      });
    }
    return async () => {
      await execa("ssh", sshForwardArgs(this.target, this.argsOpts, "cancel", spec), { reject: false, stdin: "ignore", timeout: CONTROL_TIMEOUT_MS });
      await stopKeeper();
    };
  }

  private async exec(argv: readonly string[], opts: RunOptions): Promise<SshResult> {
    this.prepareDirs();
    const command = this.command(argv);
    const input = opts.input;
    const stream = input !== undefined && typeof input !== "string" && !Buffer.isBuffer(input) ? input : undefined;
    const child = execa("ssh", ["-T", ...sshArgs(this.target, this.argsOpts), command], {
      ...(input === undefined ? { stdin: "ignore" as const } : stream ? { stdin: "pipe" as const } : { input }),
      reject: false,
      stripFinalNewline: false,
    });
    let timedOut = false;
    const limit = opts.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
    const timer = !Number.isFinite(limit)
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          abandon(child);
        }, limit);
    let inputError: Error | undefined;
    if (stream && child.stdin) {
      // child_process only takes fd-backed streams as stdin, so pipe by hand. A remote command
      // that exits early breaks the pipe: that is its business, not an input error.
      stream.once("error", (e: Error) => {
        inputError = e;
        abandon(child);
      });
      pipeline(stream, child.stdin).catch(() => {});
    }
    const r = await child;
    clearTimeout(timer);
    if (inputError) {
      throw new OperationError(`could not read the input for remote command '${describeArgv(argv)}': ${inputError.message}`, {
        code: "ssh-input",
      });
    }
    if (timedOut) throw remoteTimeoutError(this.ctx, argv, limit);
    return this.settle(argv, r, { stdout: r.stdout, stderr: r.stderr }, opts.allowFailure ?? false);
  }

  private settle(
    argv: readonly string[],
    r: Result,
    out: { stdout: string; stderr: string },
    allowFailure: boolean,
  ): SshResult {
    if (r.exitCode === undefined) {
      if ((r as { code?: string }).code === "ENOENT") throw sshMissingError(r.cause);
      const why = r.signal ?? (r as { originalMessage?: string }).originalMessage?.split("\n")[0] ?? "an error";
      throw new OperationError(`ssh to server '${this.name}' ended by ${why}`, {
        code: "ssh-failed",
        hint: `run: btw server check ${this.name}`,
      });
    }
    const result = { stdout: out.stdout, stderr: out.stderr, exitCode: r.exitCode };
    if (r.exitCode === 0) return result;
    if (r.exitCode === 255) {
      const err = sshConnectionError(this.ctx, out.stderr);
      // An unrecognised 255 may be the remote command's own exit status.
      if (err.code === "ssh-failed" && allowFailure) return result;
      throw err;
    }
    if (allowFailure) return result;
    throw remoteCommandError(this.ctx, argv, r.exitCode, out.stderr);
  }

  private command(argv: readonly string[]): string {
    if (argv.length === 0 || argv[0] === "") {
      // ssh with an empty command opens a login shell on stdin — never what we mean.
      throw new UsageError("empty remote command", { code: "invalid-argument" });
    }
    return shellJoin(argv);
  }

  private prepareDirs(): void {
    if (this.dirsReady) return;
    ensurePrivateDir(this.opts.controlDir);
    ensurePrivateDir(dirnameOf(this.opts.knownHostsFile));
    this.dirsReady = true;
  }
}

/**
 * Stop waiting for a remote command. A multiplexed ssh client hands its stdio descriptors to
 * the master, so killing it neither ends the remote command nor closes our pipes: destroy
 * our ends too. The remote command then dies of SIGPIPE on its next write (without a TTY
 * there is no hangup to send it).
 */
export function abandon(child: { kill(signal?: NodeJS.Signals): boolean; stdin?: unknown; stdout?: unknown; stderr?: unknown }): void {
  child.kill("SIGKILL");
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as { destroy?: () => void } | null | undefined)?.destroy?.();
}

function dirnameOf(file: string): string {
  const i = file.lastIndexOf("/");
  return i <= 0 ? "/" : file.slice(0, i);
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
