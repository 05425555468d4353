import { composeProjectOf, dockerRemoveContainer, interruptedRecreate, isComposeUp } from "../core/commands/compose.js";
import { mkdirP, removeTree, writeFileAtomic } from "../core/commands/files.js";
import type { RunOptions, SshClient, SshResult } from "../remote/ssh.js";

/** How many leftovers of interrupted recreates one `compose up` clears (one per service at most). */
const MAX_RECREATE_LEFTOVERS = 8;

/** A server as the flows see it: argv over SSH, and files written atomically over stdin. */
export class Host {
  constructor(
    readonly name: string,
    readonly ssh: SshClient,
  ) {}

  /**
   * Run argv on the server. A `docker compose … up` that fails on the leftover of a recreate
   * an earlier run was killed in (see interruptedRecreate) removes that leftover and runs
   * again, so every flow that converges a stack finishes after a kill at any point of `up`.
   */
  async run(argv: readonly string[], opts: RunOptions = {}): Promise<SshResult> {
    if (!isComposeUp(argv)) return this.ssh.run(argv, opts);
    for (let cleared = 0; ; cleared++) {
      const r = await this.ssh.run(argv, { ...opts, allowFailure: true });
      if (r.exitCode === 0) return r;
      const leftover = cleared < MAX_RECREATE_LEFTOVERS ? interruptedRecreate(argv, r.stderr) : undefined;
      const owner = leftover && (await this.ssh.run(composeProjectOf(leftover.id), { allowFailure: true, timeoutMs: 60_000 }));
      if (leftover === undefined || owner === undefined || owner.exitCode !== 0 || owner.stdout.trim() !== leftover.project) {
        if (opts.allowFailure) return r;
        throw this.ssh.failure(argv, r);
      }
      await this.ssh.run(dockerRemoveContainer(leftover.id), { timeoutMs: 60_000 });
    }
  }

  async mkdir(path: string, mode = "0755"): Promise<void> {
    await this.ssh.run(mkdirP(path, mode));
  }

  /** Content travels on stdin — never in argv — so secrets stay out of the process list. */
  async writeFile(path: string, content: string, mode = "0644"): Promise<void> {
    await this.ssh.run(writeFileAtomic(path, mode), { input: content });
  }

  async removeTree(path: string): Promise<void> {
    await this.ssh.run(removeTree(path));
  }
}
