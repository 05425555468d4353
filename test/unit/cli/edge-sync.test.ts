// `btw edge sync` outside edge mode: one clear line, exit 2, nothing opened or contacted.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../../src/cli/main.js";

const home = mkdtempSync(join(tmpdir(), "btw-edge-cli-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("btw edge sync", () => {
  it("in direct mode refuses with one line and a hint, exit 2", async () => {
    writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d) => (err += d));
    const code = await run(["edge", "sync"], { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: "1", BTW_HOME: home }, cwd: home, stdinIsTTY: false, stderrIsTTY: false });
    expect(code).toBe(2);
    expect(err.split("\n").filter((l) => l.startsWith("error:"))).toEqual(["error: proxy.mode is direct: there is no edge to sync"]);
    expect(err).toMatch(/^hint: set proxy\.mode: edge in btw\.yml/m);
  });
});
