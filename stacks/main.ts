// The app entry of cdktf.json, for the cdktn CLI (`npx cdktn synth`): the same stack btw's
// `infra synth` writes, from the same btw.yml (BTW_CONFIG, ./btw.yml, $BTW_HOME/btw.yml),
// into ./cdktf.out (or CDKTF_OUTDIR). State stays where btw keeps it.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { expandPath, findConfig, loadConfig } from "../src/config/load.js";
import { backendFor, infraPaths } from "../src/core/infra/terraform.js";
import { synthFromConfig } from "./from-config.js";

const source = findConfig({ env: process.env, cwd: process.cwd(), exists: existsSync });
if (!source) throw new Error("no btw configuration found (BTW_CONFIG, ./btw.yml, $BTW_HOME/btw.yml): run `btw init`");
const { config } = loadConfig(source, process.env);
const paths = infraPaths(expandPath(config.terraform.dir, process.env), config.terraform.stack);
const outdir = resolve(process.env.CDKTF_OUTDIR ?? "cdktf.out");
const { result } = synthFromConfig(config, backendFor(config.database.url, config.terraform.pgSchema, paths), outdir);
process.stdout.write(`${result.stackFile}\n`);
