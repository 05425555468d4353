import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/package-root.js";

// `btw --help` must stay instant: the entry of the state layer may only reach the drivers
// (pg, PGlite ≈ 10 MB of WASM) through dynamic import().
describe("src/state/db.ts", () => {
  it("imports no driver statically", () => {
    const source = readFileSync(path.join(packageRoot(), "src", "state", "db.ts"), "utf8");
    const staticImports = [...source.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
    expect(staticImports.filter((s) => /^(pg|@electric-sql\/pglite)$|pg-db|pglite-db/.test(s!))).toEqual([]);
    expect(source).toMatch(/await import\("\.\/pg-db\.js"\)/);
    expect(source).toMatch(/await import\("\.\/pglite-db\.js"\)/);
  });
});
