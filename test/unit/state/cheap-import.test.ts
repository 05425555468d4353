import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/package-root.js";

// `btw --help` must stay instant: the entry of the state layer may only reach the drivers
// (pg; the embedded server's starter; PGlite ≈ 10 MB of WASM, still read to convert old
// stores) through dynamic import().
describe("src/state/db.ts", () => {
  it("imports no driver statically", () => {
    const source = readFileSync(path.join(packageRoot(), "src", "state", "db.ts"), "utf8");
    const staticImports = [...source.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
    expect(staticImports.filter((s) => /^(pg|@electric-sql\/pglite)$|pg-db|pglite|embedded/.test(s!))).toEqual([]);
    expect(source).toMatch(/await import\("\.\/pg-db\.js"\)/);
    expect(source).toMatch(/await import\("\.\/embedded-db\.js"\)/);
  });
});

describe("src/state/embedded-db.ts", () => {
  it("reaches PGlite only through dynamic import() (a conversion is rare; its WASM must not load on every open)", () => {
    const dir = path.join(packageRoot(), "src", "state");
    for (const f of ["embedded-db.ts", "embedded/server.ts", "embedded/pglite-import.ts", "embedded/layout.ts"]) {
      const source = readFileSync(path.join(dir, f), "utf8");
      const staticImports = [...source.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
      expect(staticImports.filter((s) => /pglite-db|@electric-sql\/pglite/.test(s!)), f).toEqual([]);
    }
  });
});
