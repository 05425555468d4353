import type { Handler } from "../../cli/program.js";

// A new master key; every tenant and server secret re-sealed under it; the old key kept read-only in
// $BTW_HOME/keyring so backups taken before the rotation still open. Re-run after a crash.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const { planRotation, rotateMasterKey } = await import("../../ops/key/rotate.js");
  if (opts.dryRun) {
    const plan = await planRotation(ctx, db);
    return void ctx.out.result({ dryRun: true, ...plan }, () =>
      [
        `would create a new master key${plan.resumed ? ` (resuming: ${plan.to} is pending)` : ""} and keep ${plan.from} in ${ctx.home}/keyring`,
        `would re-seal ${plan.secrets} secret(s) (tenants' and servers') under the new key in one transaction`,
        "(dry run: nothing was changed)",
      ].join("\n"),
    );
  }
  await ctx.confirm("Rotate the master key (other operators and cron hosts then need `btw key import` of a new recovery file)?", opts.yes as boolean | undefined);
  const r = await rotateMasterKey(ctx, db);
  await ctx.audit("key.rotate", "master-key", { from: r.from, to: r.to, resealed: r.resealed });
  ctx.out.result({ ...r }, () =>
    [
      `master key ${r.from} → ${r.to}: ${r.resealed} secret(s) re-sealed${r.resumed ? " (finished an interrupted rotation)" : ""}`,
      `${r.from} is kept read-only in ${ctx.home}/keyring: backups taken before still open`,
      `new backup recovery identity ${r.recoveryRecipient} in ${ctx.home}/recovery-identity.txt (the old one is kept in the keyring)`,
      "next: `btw key export --recovery --out <file>` and store it offline; other hosts need `btw key import <file>`",
    ].join("\n"),
  );
};
export default handler;
