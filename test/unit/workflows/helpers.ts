// Shared by the workflow unit tests: the shipped files, and a tiny stand-in for n8n's Code
// node runtime so the JavaScript inside WF1/WF2 is tested exactly as shipped.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseManifest, type Manifest } from "../../../src/core/workflows/manifest.js";

export const WORKFLOWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../workflows");

export function shippedManifest(): Manifest {
  return parseManifest(readFileSync(path.join(WORKFLOWS_DIR, "manifest.yml"), "utf8"));
}

export function shippedTemplate(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(WORKFLOWS_DIR, file), "utf8")) as Record<string, unknown>;
}

export interface Item {
  json: Record<string, unknown>;
}

/** The jsCode of the Code node `nodeName` in a template file. */
export function codeOf(file: string, nodeName: string): string {
  const nodes = shippedTemplate(file).nodes as { name: string; type: string; parameters: { jsCode?: string } }[];
  const node = nodes.find((n) => n.name === nodeName);
  if (!node || node.type !== "n8n-nodes-base.code" || !node.parameters.jsCode) throw new Error(`${file}: no Code node '${nodeName}'`);
  return node.parameters.jsCode;
}

/**
 * Runs Code-node JavaScript in "Run Once for All Items" mode with the globals it uses:
 * $input.all(), $('Node').all()/first()/itemMatching(i), $execution.id.
 */
export function runCodeNode(jsCode: string, ctx: { input: Item[]; nodes?: Record<string, Item[]>; executionId?: string }): Item[] {
  const node = (name: string): { all(): Item[]; first(): Item | undefined; itemMatching(i: number): Item } => {
    const items = ctx.nodes?.[name];
    if (!items) throw new Error(`Code node referenced unknown node '${name}'`);
    return { all: () => items, first: () => items[0], itemMatching: (i) => items[i]! };
  };
  const $input = { all: () => ctx.input, first: () => ctx.input[0] };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const fn = new Function("$input", "$", "$execution", jsCode) as (...a: unknown[]) => Item[];
  return fn($input, node, { id: ctx.executionId ?? "1" });
}
