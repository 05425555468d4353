import type { Handler } from "../../cli/program.js";
import { outputArgs } from "../../core/infra/terraform.js";
import { parseServerOutputs } from "../../core/infra/outputs.js";
import { infraSetup, prepare, tf } from "../../ops/infra/terraform.js";

// The servers in Terraform's state (reads the state only: no Hetzner call, no token).
const handler: Handler = async (ctx) => {
  const setup = infraSetup(ctx);
  await prepare(ctx, setup);
  const servers = parseServerOutputs((await tf(ctx, setup, outputArgs())).stdout);
  ctx.out.result({ servers }, () =>
    servers.length === 0
      ? "no servers in the Terraform state (run `btw infra apply`)"
      : ctx.out.table(servers, [
          { header: "name", value: (s) => s.name },
          { header: "role", value: (s) => s.role },
          { header: "type", value: (s) => s.serverType },
          { header: "id", value: (s) => s.id },
          { header: "ipv4", value: (s) => s.ipv4 },
          { header: "ipv6", value: (s) => s.ipv6 },
          { header: "private ip", value: (s) => s.privateIp },
        ]),
  );
};
export default handler;
