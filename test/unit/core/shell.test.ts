import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { shellJoin, shellQuote } from "../../../src/core/shell.js";
import { UsageError } from "../../../src/errors.js";

describe("shellQuote", () => {
  it.each([
    ["docker", "docker"],
    ["{{.Server.Version}}", "'{{.Server.Version}}'"],
    ["/opt/btw/tenants/acme/.env", "/opt/btw/tenants/acme/.env"],
    ["btw-acme", "btw-acme"],
    ["--format", "--format"],
    ["-rf", "-rf"],
    ["user@host:22", "user@host:22"],
    ["a=b", "a=b"],
    ["100%", "100%"],
    ["a+b,c", "a+b,c"],
  ])("leaves the safe word %j bare", (arg, quoted) => {
    expect(shellQuote(arg)).toBe(quoted);
  });

  it("quotes the empty string as ''", () => {
    expect(shellQuote("")).toBe("''");
  });

  it.each([
    ["; rm -rf /", "'; rm -rf /'"],
    ["$(id)", "'$(id)'"],
    ["`id`", "'`id`'"],
    ["${HOME}", "'${HOME}'"],
    ["a b", "'a b'"],
    ["a\tb", "'a\tb'"],
    ["line1\nline2", "'line1\nline2'"],
    ["*", "'*'"],
    ["?", "'?'"],
    ["[a]", "'[a]'"],
    ["~", "'~'"],
    ["~root", "'~root'"],
    ["a|b", "'a|b'"],
    ["a&b", "'a&b'"],
    ["a>b", "'a>b'"],
    ["a<b", "'a<b'"],
    ["#comment", "'#comment'"],
    ["!", "'!'"],
    ["a\\b", "'a\\b'"],
    ['say "hi"', `'say "hi"'`],
    ["{a,b}", "'{a,b}'"],
    ["(x)", "'(x)'"],
    ["=ls", "'=ls'"],
    ["é", "'é'"],
    ["日本語", "'日本語'"],
    ["emoji 😀", "'emoji 😀'"],
  ])("quotes %j", (arg, quoted) => {
    expect(shellQuote(arg)).toBe(quoted);
  });

  it("writes a single quote as close, escaped quote, reopen", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("'")).toBe(`''\\'''`);
    expect(shellQuote("''")).toBe(`''\\'''\\'''`);
  });

  it("refuses a NUL byte without echoing the value", () => {
    let caught: unknown;
    try {
      shellQuote("secret\0value");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).code).toBe("invalid-argument");
    expect((caught as UsageError).message).not.toContain("secret");
  });
});

describe("shellJoin", () => {
  it("joins quoted words with single spaces", () => {
    expect(shellJoin(["docker", "version", "--format", "{{.Server.Version}}"])).toBe(
      "docker version --format '{{.Server.Version}}'",
    );
  });

  it("keeps empty arguments as words", () => {
    expect(shellJoin(["printf", "%s|", "", "x"])).toBe("printf '%s|' '' x");
  });

  it("joins an empty argv to the empty string", () => {
    expect(shellJoin([])).toBe("");
  });
});

// What sshd does with our command line: `$SHELL -c "<line>"`. Parse it with real shells and
// check the words that come out are the words that went in.
function wordsAsParsedBy(shell: string, argv: readonly string[]): string[] {
  const line = `printf '%s\\0' ${shellJoin(argv)}`;
  const r = spawnSync(shell, ["-c", line], { encoding: "utf8", env: { PATH: process.env.PATH, LC_ALL: "C.UTF-8" } });
  if (r.status !== 0) throw new Error(`${shell} exited ${r.status}: ${r.stderr}`);
  return r.stdout.split("\0").slice(0, -1);
}

// mulberry32: a small seeded generator, so a failure names a seed that reproduces it.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOL = [
  ..."abcXYZ019_-./=:,+@%",
  ..." \t\n\r\v\f",
  ..."'\"`$\\!#&|;<>()[]{}*?~^",
  "\x01", "\x1b", "\x7f",
  "é", "ß", "日", "😀", "\u202e", "\u0301", "\u00a0",
  "$(id)", "${IFS}", "'\\''", "; rm -rf /", "--", "-n", "-e",
];

function randomArg(next: () => number): string {
  const len = Math.floor(next() * 12);
  let s = "";
  for (let i = 0; i < len; i++) s += POOL[Math.floor(next() * POOL.length)];
  return s;
}

describe.each(["sh", "bash"])("round-trip through a real %s", (shell) => {
  it("returns hand-picked hostile arguments verbatim", () => {
    const argv = [
      "", " ", "'", "''", "\"", "\\", "\\'", "; rm -rf /", "$(id)", "`id`", "${HOME}", "a\nb",
      "\n", "-n", "-e", "--", "*", "~", "#", "!!", "%s", "日本語 😀", "it's \"quoted\"", "=ls",
    ];
    expect(wordsAsParsedBy(shell, argv)).toEqual(argv);
  });

  it("returns random strings verbatim", () => {
    const seed = Number(process.env.SHELL_QUOTE_SEED ?? Date.now() % 2 ** 31);
    const next = rng(seed);
    for (let batch = 0; batch < 5; batch++) {
      const argv = Array.from({ length: 100 }, () => randomArg(next));
      expect(wordsAsParsedBy(shell, argv), `seed ${seed}`).toEqual(argv);
    }
    // five shell processes: seconds on a machine loaded by the e2e suite running beside it
  }, 60_000);
});
