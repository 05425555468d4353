import { parseArgs } from "node:util";
import { PUSHED_IMAGES, isPushedImage, labConfig } from "./config.js";
import { LabError } from "./errors.js";
import { ALL_IMAGES, DEMO_IMAGES, type ImageName, buildImages } from "./images.js";
import { ensureHostDocker } from "./host-docker.js";
import { ensureHostPackages } from "./host-packages.js";
import { labBare, labDown, labEdge, labImages, labStatus, labUp } from "./lab.js";
import { withLabLock } from "./lock.js";
import { timed } from "./log.js";
import { renderInfo, renderServer, renderStatus } from "./render.js";

const USAGE = `usage: npm run lab -- <verb> [options]
  build [image...] [--rebuild] [--refresh-caches]   build missing/changed images (${ALL_IMAGES.join(", ")});
                                                     none named: all of them
  build --demo [--rebuild] [--refresh-caches]        only what up builds (${DEMO_IMAGES.join(", ")})
  up [--servers N] [--prepull] [--json] [--verbose]  bring the lab up (idempotent; builds what --demo does);
                                                     --prepull pulls the service images into every VM too
  images <image...> [--json]                         build if missing, push to the lab registry (what up leaves
                                                     out: ${PUSHED_IMAGES.filter((n) => !DEMO_IMAGES.includes(n)).join(", ")})
  status [--json]                                    what runs
  down                                               remove VMs, networks, volumes; stop the registry
  bare [--json]                                      (re)start lab-bare afresh: sshd only, no Docker
  edge [--json]                                      the edge lab: a private network, lab-N and lab-edge on it`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      servers: { type: "string" },
      rebuild: { type: "boolean", default: false },
      "refresh-caches": { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
      prepull: { type: "boolean", default: false },
      demo: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [verb, ...rest] = positionals;
  const cfg = labConfig();
  const out = (text: string) => process.stdout.write(`${text}\n`);
  if (values.help || !verb) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  switch (verb) {
    case "build": {
      const names = rest as ImageName[];
      const unknown = names.filter((n) => !ALL_IMAGES.includes(n));
      if (unknown.length) throw new LabError(`unknown image: ${unknown.join(", ")} (known: ${ALL_IMAGES.join(", ")})`);
      if (values.demo && names.length) throw new LabError("build: name images or give --demo, not both");
      // no names: everything (a person asked to build); `up` and the e2e files build on demand
      const wanted = values.demo ? DEMO_IMAGES : names.length ? names : ALL_IMAGES;
      await ensureHostPackages();
      await ensureHostDocker(cfg);
      // `build` is watched by a person: stream docker's output unless asked for --json.
      const opts = { rebuild: values.rebuild!, refreshCaches: values["refresh-caches"]!, verbose: !values.json };
      await withLabLock(cfg, "build", () => timed("build", () => buildImages(cfg, opts, wanted)));
      return;
    }
    case "up": {
      const servers = values.servers === undefined ? 2 : Number(values.servers);
      if (!Number.isInteger(servers) || servers < 1 || servers > 9) throw new LabError(`--servers must be 1..9`);
      const info = await timed("lab up", () => labUp(cfg, { servers, verbose: values.verbose!, prepull: values.prepull! }));
      out(values.json ? JSON.stringify(info) : renderInfo(info));
      return;
    }
    case "images": {
      const unknown = rest.filter((n) => !isPushedImage(n));
      if (!rest.length || unknown.length) throw new LabError(`images: name some of ${PUSHED_IMAGES.join(", ")}${unknown.length ? ` (unknown: ${unknown.join(", ")})` : ""}`);
      const refs = await timed("lab images", () => labImages(cfg, rest.filter(isPushedImage), { verbose: values.verbose! }));
      out(values.json ? JSON.stringify(refs) : Object.entries(refs).map(([k, v]) => `image     ${k.padEnd(8)} ${v}`).join("\n"));
      return;
    }
    case "status": {
      const status = await labStatus(cfg);
      out(values.json ? JSON.stringify(status) : renderStatus(status));
      return;
    }
    case "down":
      await timed("lab down", () => labDown(cfg));
      return;
    case "bare": {
      const server = await labBare(cfg);
      out(values.json ? JSON.stringify(server) : renderServer(server));
      return;
    }
    case "edge": {
      const edge = await timed("lab edge", () => labEdge(cfg));
      out(values.json ? JSON.stringify(edge) : [renderServer(edge.edge), ...Object.entries(edge.privateAddresses).map(([n, a]) => `${n}: ${a} on ${edge.privateNetwork.name}`)].join("\n"));
      return;
    }
    default:
      throw new LabError(`unknown verb "${verb}" (try: npm run lab -- --help)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`lab: error: ${message}\n`);
  process.exitCode = 1;
});
