import type { Handler } from "../../cli/program.js";
import { knownHostsFile, requireServer, sshFor } from "./shared.js";

// After a legitimate host key change (reinstall, rebuild), forget the pinned key and pin the
// one the server presents now — showing both fingerprints so the operator can compare them
// with the provider's console before confirming.
const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const server = await requireServer(db, String(name));
  const file = knownHostsFile(ctx);
  const { fingerprint, forgetHostKey, scanHostKey } = await import("../../remote/known-hosts.js");
  const pinned = await fingerprint(file, server.host, server.port);
  const presented = await scanHostKey(server.host, server.port);
  const show = (fps: { fingerprint: string; type?: string }[]) => (fps.length ? fps.map((f) => `${f.type ?? ""} ${f.fingerprint}`.trim()).join(", ") : "none");
  ctx.out.info(`pinned:    ${show(pinned)}`);
  ctx.out.info(`presented: ${show(presented)}`);
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, server: server.name, pinned, presented }, () => "(dry run: nothing was changed)");
    return;
  }
  await ctx.confirm(`Trust the key ${server.name} presents now and forget the pinned one?`, opts.yes as boolean | undefined);
  await forgetHostKey(file, server.host, server.port);
  await (await sshFor(ctx, server)).connect(); // first contact again: pins the presented key
  const now = await fingerprint(file, server.host, server.port);
  await ctx.audit("server.trust", server.name, { before: pinned.map((f) => f.fingerprint), after: now.map((f) => f.fingerprint) });
  ctx.out.result({ server: server.name, pinned: now }, () => `${server.name}: now pinned ${show(now)}`);
};
export default handler;
