import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./fixtures.js";

// `btw --help` stays instant and only stacks/ imports cdktn: the CLI reaches the stacks
// through `await import(...)` inside the infra commands, never a static import.
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("cdktn stays behind the infra commands", () => {
  it("no file under src/ imports cdktn, constructs or stacks/ statically (type-only imports are erased)", () => {
    const offenders = tsFiles(join(ROOT, "src")).flatMap((file) => {
      const source = readFileSync(file, "utf8");
      return [...source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gm)]
        .map((m) => m[1]!)
        .filter((spec) => /^(cdktn|constructs)$|\/stacks\//.test(spec))
        .map((spec) => `${relative(ROOT, file)} → ${spec}`);
    });
    expect(offenders).toEqual([]);
  });

  it("the infra commands load the stacks lazily", () => {
    const shared = readFileSync(join(ROOT, "src/ops/infra/terraform.ts"), "utf8");
    expect(shared).toMatch(/await import\("\.\.\/\.\.\/\.\.\/stacks\/from-config\.js"\)/);
  });
});
