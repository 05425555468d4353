import type { Handler } from "../../cli/program.js";
import { ConflictError, UsageError } from "../../errors.js";
import { requireServer, sshFor } from "../../ops/server/context.js";

// After a legitimate host key change (reinstall, rebuild), replace the pins in the state —
// which every operator and cron host reads. With --fingerprint, exactly the key the operator
// approved (from the provider's console) is pinned, and anything else the server presents is
// refused; without it, both fingerprints are shown and the presented keys pinned once confirmed.
const handler: Handler = async (ctx, [name], opts) => {
  const approved = typeof opts.fingerprint === "string" ? opts.fingerprint : null;
  const { FINGERPRINT, fingerprintOf } = await import("../../core/server/host-keys.js");
  if (approved !== null && !FINGERPRINT.test(approved)) {
    throw new UsageError(`--fingerprint must look like SHA256:<43 base64 characters>, not ${JSON.stringify(approved)}`, { hint: "`ssh-keygen -l -E sha256 -f /etc/ssh/ssh_host_ed25519_key.pub` on the server's console prints it" });
  }
  const db = await ctx.db();
  const server = await requireServer(db, String(name));
  const { listHostKeys, replaceHostKeys } = await import("../../state/host-keys.js");
  const { scanHostKeys } = await import("../../remote/known-hosts.js");
  const pinned = await listHostKeys(db, server);
  const presented = await scanHostKeys(server.host, server.port);
  const fps = (keys: { type: string; key: string }[]) => keys.map((k) => ({ type: k.type, fingerprint: fingerprintOf(k.key) }));
  const show = (keys: { type: string; key: string }[]) => (keys.length ? fps(keys).map((f) => `${f.type} ${f.fingerprint}`).join(", ") : "none");
  ctx.out.info(`pinned:    ${show(pinned)}`);
  ctx.out.info(`presented: ${show(presented)}`);
  if (presented.length === 0) {
    throw new ConflictError(`server '${server.name}' at ${server.host}:${server.port} presented no host key (unreachable?); nothing was changed`, { code: "host-key-none" });
  }
  const chosen = approved === null ? presented : presented.filter((k) => fingerprintOf(k.key) === approved);
  if (chosen.length === 0) {
    throw new ConflictError(`server '${server.name}' does not present the approved key ${approved}: refusing to pin ${show(presented)}; nothing was changed`, {
      code: "host-key-mismatch",
      hint: "compare with the server's console; a different key may mean someone is in between",
    });
  }
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, server: server.name, pinned: fps(pinned), wouldPin: fps(chosen) }, () => `would pin ${show(chosen)} (dry run: nothing was changed)`);
    return;
  }
  // an approved fingerprint is the operator's decision already; otherwise ask
  if (approved === null) await ctx.confirm(`Trust the key ${server.name} presents now and forget the pinned one?`, opts.yes as boolean | undefined);
  await db.transaction((tx) => replaceHostKeys(tx, server.host, server.port, chosen));
  await (await sshFor(ctx, server)).connect(); // strict: only the key just pinned is accepted
  const now = fps(await listHostKeys(db, server));
  await ctx.audit("server.trust", server.name, { before: fps(pinned).map((f) => f.fingerprint), after: now.map((f) => f.fingerprint) });
  ctx.out.result({ server: server.name, pinned: now }, () => `${server.name}: now pinned ${now.map((f) => `${f.type} ${f.fingerprint}`).join(", ")}`);
};
export default handler;
