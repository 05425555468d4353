import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bashScript } from "../../../src/cli/completion/bash.js";
import { fishQuote, fishScript } from "../../../src/cli/completion/fish.js";
import { shQuote } from "../../../src/cli/completion/tables.js";
import { allCommands, completionTree, type CommandSpec } from "../../../src/cli/completion/tree.js";
import { zshScript } from "../../../src/cli/completion/zsh.js";
import { buildProgram } from "../../../src/cli/program.js";

// The completion scripts are generated from the command table `--help` prints. The bash one
// is loaded into a real bash and asked, for every command of the table, what it completes;
// zsh and fish are not part of the test set-up, so their scripts are checked for their
// structure here (each command path, option and kind is in them, quoted).

const tree = completionTree(buildProgram("0.0.0", {}));
const find = (path: string) => allCommands(tree).find((c) => c.path.join(" ") === path)!;
const leaves = allCommands(tree).filter((c) => c.subcommands.length === 0);
const nouns = allCommands(tree).filter((c) => c.subcommands.length > 0);
const longs = (c: CommandSpec) => c.options.flatMap((o) => o.flags).filter((f) => f.startsWith("--"));
const globalLongs = longs(tree).filter((f) => f !== "--version");

describe("the completion tree", () => {
  it("holds every command of the program but the hidden __complete", () => {
    const paths = allCommands(tree).map((c) => c.path.join(" "));
    expect(paths).toEqual(expect.arrayContaining(["tenant create", "tenant domain add", "backup verify", "completion", "doctor"]));
    expect(paths.some((p) => p.startsWith("__"))).toBe(false);
  });

  it.each([
    ["tenant show", 0, "tenants"],
    ["tenant create", 0, "none"], // a new name
    ["server add", 0, "none"],
    ["server remove", 0, "servers"],
    ["restore", 0, "tenants"],
    ["backup tenant", 0, "tenants"],
    ["backup show", 0, "backups"],
    ["tenant set-plan", 1, "plans"],
    ["key import", 0, "files"],
  ])("`%s`'s positional %i completes %s", (path, i, kind) => {
    expect(find(path).args[i]!.value).toBe(kind);
  });

  it("`server isolate [names...]` completes servers for every word; `completion <shell>` the three shells", () => {
    expect(find("server isolate").args[0]).toMatchObject({ variadic: true, value: "servers" });
    expect(find("completion").args[0]!.value).toEqual({ words: ["bash", "zsh", "fish"] });
  });

  it.each([
    ["tenant migrate", "--to", "servers"],
    ["upgrade n8n", "--to", "none"], // a version, not a server
    ["upgrade n8n", "--tenant", "tenants"],
    ["tenant create", "--plan", "plans"],
    ["restore", "--backup", "backups"],
    ["state restore", "--backup", "none"], // a state backup: in the storage, not in the state
    ["server add", "--ssh-key", "files"],
    ["workflows list", "--workflows-dir", "dirs"],
    ["server add", "--role", { words: ["monitoring"] }],
  ])("`%s %s` takes %j", (path, flag, kind) => {
    expect(find(path).options.find((o) => o.flags.includes(flag))!.value).toEqual(kind);
  });

  it("switches take no value", () => {
    expect(find("tenant delete").options.find((o) => o.flags.includes("--purge"))!.value).toBeUndefined();
    expect(tree.options.find((o) => o.flags.includes("--json"))!.value).toBeUndefined();
    expect(tree.options.find((o) => o.flags.includes("--config"))!.value).toBe("files");
  });
});

describe("btw completion bash, in a real bash", () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "btw-completion-"));
    script = join(dir, "btw.bash");
    writeFileSync(script, bashScript(tree));
    // the `btw` the script calls back: says what it was asked, as names
    writeFileSync(join(dir, "btw"), '#!/bin/sh\n[ "$1" = --config ] && { echo "config=$2"; shift 2; }\n[ "$1" = __complete ] && printf "%s-1\\n%s-2\\n" "$2" "$2"\n');
    chmodSync(join(dir, "btw"), 0o755);
    writeFileSync(join(dir, "notes.txt"), "");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Completes each line (words; the last one is the word under the cursor) in one bash. */
  function complete(lines: string[][]): string[][] {
    const calls = lines.map((words) => `q ${words.map(shQuote).join(" ")}`).join("\n");
    const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `source ${shQuote(script)}\nq() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _btw; printf '%s\\n' "\${COMPREPLY[*]}"; }\n${calls}`], {
      cwd: dir,
      encoding: "utf8",
      env: { PATH: `${dir}:/usr/bin:/bin`, HOME: dir },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout.split("\n").slice(0, lines.length);
    return out.map((l) => (l === "" ? [] : l.split(" ").sort()));
  }

  it("the script is valid bash", () => {
    expect(spawnSync("bash", ["-n", script]).status).toBe(0);
  });

  it("completes top-level commands by prefix", () => {
    expect(complete([["btw", "ten"], ["btw", "s"], ["btw", "--json", "res"]])).toEqual([["tenant"], ["schedule", "server", "state", "status"], ["restore"]]);
  });

  it("every noun completes exactly its subcommands", () => {
    const got = complete(nouns.map((n) => ["btw", ...n.path, ""]));
    expect(got).toEqual(nouns.map((n) => n.subcommands.map((s) => s.path[s.path.length - 1]!).sort()));
  });

  it("every command completes exactly its own flags and the global ones after --", () => {
    const got = complete(leaves.map((c) => ["btw", ...c.path, "--"]));
    expect(got).toEqual(leaves.map((c) => [...new Set([...longs(c), ...globalLongs])].sort()));
    expect(complete([["btw", "tenant", "create", "--"]])[0]).toEqual(expect.arrayContaining(["--plan", "--server", "--timezone", "--dry-run", "--json"]));
  });

  it("names come from `btw __complete <kind>`, with the line's --config passed on", () => {
    expect(
      complete([
        ["btw", "tenant", "show", ""],
        ["btw", "tenant", "show", "tenants-2"],
        ["btw", "server", "remove", ""],
        ["btw", "tenant", "migrate", "acme", "--to", ""],
        ["btw", "tenant", "set-plan", "acme", ""],
        ["btw", "backup", "show", ""],
        ["btw", "-c", "/etc/btw.yml", "tenant", "show", ""],
        ["btw", "server", "isolate", "a", "b", ""],
      ]),
    ).toEqual([
      ["tenants-1", "tenants-2"],
      ["tenants-2"],
      ["servers-1", "servers-2"],
      ["servers-1", "servers-2"],
      ["plans-1", "plans-2"],
      ["backups-1", "backups-2"],
      ["config=/etc/btw.yml", "tenants-1", "tenants-2"],
      ["servers-1", "servers-2"],
    ]);
  });

  it("an option's value is not taken for a subcommand or a positional; switches are", () => {
    expect(
      complete([
        ["btw", "tenant", "list", "--server", "s1", "--"], // --server consumed s1: still tenant list's flags
        ["btw", "--config", "x.yml", "tenant", ""], // the config file is no command
        ["btw", "tenant", "delete", "--purge", ""], // a switch: the next word is the name
        ["btw", "tenant", "create", "acme", ""], // a new name, then nothing more to offer
        ["btw", "tenant", "exec", "acme", "--", "--"], // after --, words are the remote command's
      ]),
    ).toEqual([expect.arrayContaining(["--server", "--status"]), expect.arrayContaining(["create", "domain", "list"]), ["tenants-1", "tenants-2"], [], []]);
  });

  it("fixed choices and files", () => {
    expect(complete([["btw", "completion", ""], ["btw", "server", "add", "s1", "--role", "m"], ["btw", "key", "import", "no"], ["btw", "--config", "not"]])).toEqual([
      ["bash", "fish", "zsh"],
      ["monitoring"],
      ["notes.txt"],
      ["notes.txt"],
    ]);
  });
});

describe("btw completion zsh and fish: structure (neither shell is part of the test set-up)", () => {
  const zsh = zshScript(tree);
  const fish = fishScript(tree);

  it("zsh: a #compdef file that registers itself when sourced", () => {
    expect(zsh.split("\n")[0]).toBe("#compdef btw");
    expect(zsh).toContain('if [[ "${funcstack[1]}" == _btw ]]; then _btw "$@"; else compdef _btw btw; fi');
  });

  it("zsh: every noun lists its subcommands with their descriptions; every command its flags", () => {
    for (const n of nouns) {
      const line = `    ${shQuote(n.path.join(" "))}) reply=(${n.subcommands.map((s) => shQuote(`${s.path[s.path.length - 1]}:${s.description.split("\n")[0]!.trim()}`)).join(" ")}) ;;`;
      expect(zsh, n.path.join(" ")).toContain(line);
    }
    for (const c of leaves.filter((l) => l.options.length)) {
      const o = c.options[0]!;
      expect(zsh, c.path.join(" ")).toContain(shQuote(`${o.flags[0]}:${o.description.split("\n")[0]}`));
    }
    expect(zsh).toContain(`    'tenant migrate|--to') REPLY='servers' ;;`);
    expect(zsh).toContain(`    'server isolate|'*) REPLY='servers' ;;`);
  });

  it("fish: one dynamic completion; every noun and command in its switch tables", () => {
    expect(fish).toContain("complete -c btw -f -a '(__btw_complete)'");
    for (const n of nouns) expect(fish, n.path.join(" ")).toContain(`        case ${fishQuote(n.path.join(" "))}\n            printf '%s\\t%s\\n' ${fishQuote(n.subcommands[0]!.path.at(-1)!)}`);
    for (const c of leaves.filter((l) => l.options.length && l.path.length)) expect(fish, c.path.join(" ")).toMatch(new RegExp(`case ${escape(fishQuote(c.path.join(" ")))}\\n\\s+printf '%s\\\\t%s\\\\n' ${escape(fishQuote(c.options[0]!.flags[0]!))} `));
    expect(fish).toContain(`        case 'tenant migrate|--to'\n            echo 'servers'`);
    expect(fish).toContain(`        case 'server isolate|*'\n            echo 'servers'`);
  });

  it("quotes descriptions for each shell", () => {
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(fishQuote("it's a \\ back")).toBe(`'it\\'s a \\\\ back'`);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
