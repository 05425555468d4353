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

  // The commands that need no --dry-run, each with why. Every other command of the table is a
  // mutation: it must declare --dry-run, and test/integration/cli/dry-run-sweep.test.ts runs
  // each one that does with it against a real state. A new command lands in one list or the other.
  const NO_DRY_RUN: Record<string, string> = {
    "config schema": "reads (prints the schema)",
    "config show": "reads",
    "config path": "reads",
    "db status": "reads",
    "db stop": "stops the local embedded server process: no data changes, the next command starts it again",
    "server list": "reads",
    "server show": "reads",
    "server check": "observes: records what it reads on the servers (facts, status, when); nothing on a host changes",
    "tenant list": "reads",
    "tenant status": "reads (live, over SSH)",
    "tenant logs": "reads",
    "tenant exec": "runs the operator's own command in a container: what it changes is that command's, btw has nothing to plan",
    "tenant show": "reads",
    "tenant export": "reads the tenant; writes only a new local file, never over an existing one",
    "tenant domain list": "reads",
    "workflows list": "reads",
    "workflows status": "reads",
    "workflows diff": "reads: it is deploy's plan, per node",
    cost: "reads",
    capacity: "reads",
    "upgrade plan": "reads: it is the upgrades' plan",
    "backup list": "reads",
    "backup show": "reads",
    "infra synth": "writes only its own output (the Terraform JSON); neither the platform nor the state",
    "infra plan": "reads: it is apply's plan",
    "infra output": "reads",
    audit: "reads",
    status: "reads",
    "schedule status": "reads",
    doctor: "reads; its one repair, --fix, has its plan in doctor without --fix (it names the stale scratch stacks --fix removes)",
    completion: "prints a script",
    __complete: "reads names for a shell",
  };

  it("every command either declares --dry-run or is one that needs none, with the reason", () => {
    const find = (path: string[]) => path.reduce<Command>((c, n) => c.commands.find((s) => s.name() === n)!, program);
    const declares = (c: string[]) => find(c).options.some((o) => o.long === "--dry-run");
    const names = commands.map((c) => c.join(" "));
    const missing = commands.filter((c) => !declares(c) && !(c.join(" ") in NO_DRY_RUN)).map((c) => c.join(" "));
    expect(missing, "mutations without --dry-run: add it, or say in NO_DRY_RUN why it needs none").toEqual([]);
    const both = commands.filter((c) => declares(c) && c.join(" ") in NO_DRY_RUN).map((c) => c.join(" "));
    expect(both, "declared --dry-run but listed as needing none").toEqual([]);
    expect(Object.keys(NO_DRY_RUN).filter((n) => !names.includes(n)), "NO_DRY_RUN names commands that do not exist").toEqual([]);
    // what asks for confirmation changes something: it has a dry run too
    const confirms = commands.filter((c) => find(c).options.some((o) => o.long === "--yes"));
    expect(confirms.length).toBeGreaterThan(10);
    for (const c of confirms) expect(declares(c), c.join(" ")).toBe(true);
  });

  it("a bare noun prints its help to stderr and exits 2", async () => {
    const t = io();
    expect(await run(["tenant"], t.io)).toBe(2);
    expect(t.err()).toMatch(/Usage: btw tenant/);
  });
});
