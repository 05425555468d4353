import { closeSync, openSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import type { Handler } from "../../cli/program.js";
import { readSecretInput } from "../../cli/secret-input.js";
import { UsageError } from "../../errors.js";

// The master key and the keyring, sealed with a passphrase (scrypt): a copy for offline
// storage. The passphrase comes from a prompt (asked twice) or stdin, never argv.
const handler: Handler = async (ctx, _args, opts) => {
  if (!opts.recovery) {
    throw new UsageError("only a recovery export exists: the master key never leaves btw unsealed", { hint: "btw key export --recovery --out <file>" });
  }
  const out = typeof opts.out === "string" ? resolve(ctx.io.cwd, opts.out) : null;
  const master = await ctx.master();
  const passphrase = await readSecretInput(ctx, "recovery passphrase", {
    confirm: true,
    pipeHint: "pipe it in: `btw key export --recovery --out key.recovery < passphrase-file`",
  });
  const { checkPassphrase } = await import("../../core/keys/recovery.js");
  checkPassphrase(passphrase);
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, keyId: master.id, out }, () => `would write a recovery file for ${master.id} to ${out ?? "stdout"}`);
  const { exportRecovery } = await import("../../ops/key/recovery.js");
  const file = await exportRecovery(ctx, passphrase);
  const text = JSON.stringify(file, null, 2) + "\n";
  if (!out) return void ctx.io.stdout.write(text);
  let fd: number;
  try {
    fd = openSync(out, "wx", 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === "EEXIST" ? `${out} exists: refusing to overwrite it` : `cannot write ${out}: ${code ?? (e as Error).message}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  ctx.out.result({ out, current: file.current, keys: file.keys }, () => `recovery file for ${file.current} (${file.keys.length} key(s)) written to ${out}: keep it offline, apart from the passphrase`);
};
export default handler;
