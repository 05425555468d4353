import { tenantComposeUpProject, stopStrayComposeUp } from "../core/commands/compose.js";
import { mkdirP, removeTree, writeFileAtomic } from "../core/commands/files.js";
import type { RunOptions, SshClient, SshResult } from "../remote/ssh.js";

/** A server as the flows see it: argv over SSH, and files written atomically over stdin. */
export class Host {
  constructor(
    readonly name: string,
    readonly ssh: SshClient,
  ) {}

  /**
   * Run argv on the server. Before a tenant's `docker compose … up`, an `up` of the same project that
   * a killed btw left running there is ended first (see stopStrayComposeUp), so every flow
   * that converges a stack finishes after a kill at any point of an earlier `up`.
   */
  async run(argv: readonly string[], opts: RunOptions = {}): Promise<SshResult> {
    const project = tenantComposeUpProject(argv);
    if (project !== undefined) await this.ssh.run(stopStrayComposeUp(project), { timeoutMs: 60_000 });
    return this.ssh.run(argv, opts);
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
