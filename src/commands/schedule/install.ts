import type { Handler } from "../../cli/program.js";
import { crontabBlock, installCrontab } from "../../ops/schedule/install.js";

// This host's crontab: btw's marked block (for this BTW_HOME) replaced, never duplicated.
const handler: Handler = async (ctx, _args, opts) => {
  const block = crontabBlock(ctx);
  if (opts.dryRun) return void ctx.out.result({ dryRun: true, block }, () => `would put this block in the crontab:\n${block}`);
  const { changed } = await installCrontab(ctx, block);
  if (changed) await ctx.audit("schedule.install", ctx.home, {});
  ctx.out.result({ changed, block }, () => (changed ? `crontab updated:\n${block}` : "crontab already up to date"));
};
export default handler;
