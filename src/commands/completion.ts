import type { Handler } from "../cli/program.js";

// `btw completion bash|zsh|fish`: the completion script, generated from the command table
// that `--help` prints (src/cli/program.ts), so a new command or flag completes without
// anyone editing a script. The shell argument is checked by commander (choices).
const handler: Handler = async (ctx, [shell]) => {
  const { buildProgram } = await import("../cli/program.js");
  const { packageVersion } = await import("../package-root.js");
  const { completionTree } = await import("../cli/completion/tree.js");
  const tree = completionTree(buildProgram(packageVersion(), {}));
  const scripts = {
    bash: async () => (await import("../cli/completion/bash.js")).bashScript(tree),
    zsh: async () => (await import("../cli/completion/zsh.js")).zshScript(tree),
    fish: async () => (await import("../cli/completion/fish.js")).fishScript(tree),
  };
  ctx.io.stdout.write(await scripts[shell as keyof typeof scripts]());
};
export default handler;
