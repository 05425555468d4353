import { UsageError } from "../errors.js";
import type { Ctx } from "./context.js";

// A secret the operator gives btw (a passphrase, a token): from a hidden prompt on a TTY, or
// the first line of stdin when piped — never argv, so it cannot land in shell history or `ps`.
export async function readSecretInput(ctx: Ctx, what: string, opts: { confirm?: boolean; pipeHint: string }): Promise<string> {
  if (ctx.io.stdinIsTTY && ctx.canPrompt()) {
    const { password } = await import("@inquirer/prompts");
    const io = { input: ctx.io.stdin, output: ctx.io.stderr };
    const value = await password({ message: `${what}:`, mask: true }, io);
    if (opts.confirm) {
      const again = await password({ message: `${what} (again):`, mask: true }, io);
      if (again !== value) throw new UsageError(`the two ${what} entries differ`);
    }
    return value;
  }
  if (ctx.io.stdinIsTTY) throw new UsageError(`no ${what}`, { hint: opts.pipeHint });
  const chunks: Buffer[] = [];
  for await (const c of ctx.io.stdin) chunks.push(Buffer.from(c as Buffer));
  const value = Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "";
  if (value === "") throw new UsageError(`the ${what} read from stdin is empty`, { hint: opts.pipeHint });
  return value;
}
