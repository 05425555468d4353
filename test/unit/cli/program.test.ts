import { PassThrough } from "node:stream";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { run } from "../../../src/cli/main.js";
import { buildProgram } from "../../../src/cli/program.js";

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: "1", BTW_HOME: "/nonexistent-btw-home" }, cwd: "/", stdinIsTTY: false, stderrIsTTY: false },
    out: () => out,
    err: () => err,
  };
}

const leaves = (c: Command, path: string[] = []): string[][] =>
  c.commands.length ? c.commands.flatMap((s) => leaves(s, [...path, s.name()])) : [path];

describe("the program", () => {
  const program = buildProgram("0.0.0", {});
  const commands = leaves(program).filter((p) => p.length && p[p.length - 1] !== "help");

  it("declares the commands of the README", () => {
    const names = commands.map((c) => c.join(" "));
    for (const c of ["init", "config schema", "db migrate", "server add", "server check", "tenant create", "tenant delete", "status", "doctor", "audit"]) {
      expect(names).toContain(c);
    }
  });

  it.each(commands.map((c) => [c.join(" "), c]))("`btw %s --help` exits 0", async (_n, path) => {
    const t = io();
    expect(await run([...(path as string[]), "--help"], t.io)).toBe(0);
    expect(t.out()).toMatch(/^Usage: btw /);
  });

  it("every mutation offers --dry-run", () => {
    const find = (path: string[]) => path.reduce<Command>((c, n) => c.commands.find((s) => s.name() === n)!, program);
    const mutations = ["init", "db migrate", "server add", "server remove", "server trust", "tenant create", "tenant suspend", "tenant resume", "tenant set-plan", "tenant delete", "tenant secrets set"];
    for (const m of mutations) expect(find(m.split(" ")).options.map((o) => o.long), m).toContain("--dry-run");
    for (const d of ["server remove", "server trust", "tenant delete"]) expect(find(d.split(" ")).options.map((o) => o.long), d).toContain("--yes");
  });

  it("a bare noun prints its help to stderr and exits 2", async () => {
    const t = io();
    expect(await run(["tenant"], t.io)).toBe(2);
    expect(t.err()).toMatch(/Usage: btw tenant/);
  });
});
