import { resolve } from "node:path";
import type { Handler } from "../../cli/program.js";
import { readSecretInput } from "../../cli/secret-input.js";

// Reads a recovery file (`btw key export --recovery`): its current key becomes this host's
// master key, its retired keys join the keyring. A different local key is never deleted:
// it moves into the keyring (after confirmation).
const handler: Handler = async (ctx, [file], opts) => {
  const { importRecovery, planImport, readRecoveryFile } = await import("../../ops/key/recovery.js");
  const path = resolve(ctx.io.cwd, String(file));
  const f = readRecoveryFile(path);
  const plan = planImport(ctx, f);
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, ...plan }, () =>
      `would make ${plan.imported} the master key${plan.replaces ? ` (${plan.replaces} moves to the keyring)` : ""} and keep ${plan.keys.length - 1} retired key(s)`,
    );
  }
  const passphrase = await readSecretInput(ctx, "recovery passphrase", { pipeHint: `pipe it in: \`btw key import ${String(file)} < passphrase-file\`` });
  if (plan.replaces) await ctx.confirm(`Make ${plan.imported} the master key (the current ${plan.replaces} is kept in the keyring)?`, opts.yes as boolean | undefined);
  const r = await importRecovery(ctx, f, passphrase);
  if (ctx.env.BTW_MASTER_KEY) ctx.out.warn("BTW_MASTER_KEY is set and takes precedence over $BTW_HOME/master.key");
  ctx.out.result({ ...plan, keyring: r.keyring }, () => `master key ${plan.imported} imported${plan.replaces ? `; ${plan.replaces} kept in the keyring` : ""}; keyring: ${r.keyring.join(", ") || "empty"}`);
};
export default handler;
