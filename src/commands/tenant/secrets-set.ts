import type { Handler } from "../../cli/program.js";
import { UsageError } from "../../errors.js";
import { requireTenant } from "../../ops/tenant-context.js";
import { OPERATOR_SECRETS, storeSecrets } from "../../ops/tenant-secrets.js";

// The value comes from stdin (pipes, secret managers) or a hidden prompt — never argv, so it
// cannot land in shell history or `ps`.
const handler: Handler = async (ctx, [name, key], opts) => {
  const k = String(key);
  if (!(OPERATOR_SECRETS as readonly string[]).includes(k)) {
    throw new UsageError(`unknown tenant secret ${JSON.stringify(k)}`, { hint: `one of ${OPERATOR_SECRETS.join(", ")}` });
  }
  const db = await ctx.db();
  const t = await requireTenant(db, String(name));
  let value: string;
  if (ctx.io.stdinIsTTY && ctx.canPrompt()) {
    const { password } = await import("@inquirer/prompts");
    value = await password({ message: `${k} for ${t.slug}:`, mask: true }, { input: ctx.io.stdin, output: ctx.io.stderr });
  } else if (!ctx.io.stdinIsTTY) {
    const chunks: Buffer[] = [];
    for await (const c of ctx.io.stdin) chunks.push(Buffer.from(c as Buffer));
    value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  } else {
    throw new UsageError(`no value for ${k}`, { hint: `pipe it in: \`printf %s "$VALUE" | btw tenant secrets set ${t.slug} ${k}\`` });
  }
  if (value === "") throw new UsageError(`the value for ${k} is empty`);
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, tenant: t.slug, secret: k }, () => `would store ${k} for ${t.slug} (sealed)`);
  await storeSecrets(db, await ctx.master(), t.id, { [k]: value });
  await ctx.audit("tenant.secrets.set", t.slug, { name: k });
  ctx.out.result({ tenant: t.slug, secret: k, stored: true }, () => `${k} stored for ${t.slug} (sealed; applied to n8n at the next \`btw workflows deploy --tenant ${t.slug}\`)`);
};
export default handler;
