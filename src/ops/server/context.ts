import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { NotFoundError } from "../../errors.js";
import type { Queryable } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { SshClient } from "../../remote/ssh.js";

// What every flow that reaches a server needs: its row by name, and an SSH client pinned to
// its host keys. Commands and ops alike take them from here.

/**
 * One SSH client per server for this command; its master connection closes with the command.
 * Host keys come from the state: a first contact pins them there, then this process's
 * known_hosts file is rendered from every pin and ssh accepts no other key.
 */
export async function sshFor(ctx: Ctx, s: Pick<ServerRow, "name" | "host" | "port" | "sshUser" | "sshKeyPath">): Promise<SshClient> {
  const { SshClient, defaultControlDir } = await import("../../remote/ssh.js");
  // A control directory per process: a master is never shared between two btw processes, so
  // one finishing (`ssh -O exit`) cannot cut another's sessions or tunnels.
  const controlDir = join(defaultControlDir(), String(process.pid));
  const db = await ctx.db();
  const { ensureHostPinned, renderKnownHostsFile } = await import("../host-keys.js");
  const { ensurePrivateDir } = await import("../../remote/private-dir.js");
  await ensureHostPinned(ctx, db, s);
  ensurePrivateDir(controlDir);
  const knownHostsFile = join(controlDir, "known_hosts");
  await renderKnownHostsFile(db, knownHostsFile);
  const identityFile = s.sshKeyPath ?? ctx.config.ssh.identityFile;
  const client = new SshClient({
    name: s.name,
    host: s.host,
    port: s.port,
    user: s.sshUser,
    ...(identityFile ? { identityFile } : {}),
    knownHostsFile,
    strictHostKeys: true,
    controlDir,
    connectTimeoutSec: ctx.config.ssh.connectTimeoutSec,
  });
  ctx.onClose(async () => {
    await client.close();
    rmSync(controlDir, { recursive: true, force: true });
  });
  return client;
}

export async function requireServer(q: Queryable, name: string): Promise<ServerRow> {
  const { getServerByName } = await import("../../state/servers.js");
  const s = await getServerByName(q, name);
  if (!s) throw new NotFoundError("server", name, { hint: "`btw server list` shows the registered servers" });
  return s;
}
