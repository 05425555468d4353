import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";

const cache = new Map<string, string>();

/** A file shipped with btw (templates/, workflows/), read once per process. */
export function asset(relative: string): string {
  let text = cache.get(relative);
  if (text === undefined) {
    text = readFileSync(join(packageRoot(), relative), "utf8");
    cache.set(relative, text);
  }
  return text;
}
