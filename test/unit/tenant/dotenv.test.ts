import { describe, expect, it } from "vitest";
import { quoteEnvValue, renderEnvFile } from "../../../src/core/tenant/dotenv.js";
import { UsageError } from "../../../src/errors.js";

describe("quoteEnvValue", () => {
  it.each([
    ["", ""],
    ["acme", "acme"],
    ["docker.n8n.io/n8nio/n8n:2.8.4", "docker.n8n.io/n8nio/n8n:2.8.4"],
    ["https://acme.example.com/", "https://acme.example.com/"],
    ["10.220.0.0/26", "10.220.0.0/26"],
    ["img@sha256:abc", "img@sha256:abc"],
    ["a=b,c+d%", "a=b,c+d%"],
  ])("leaves the plain word %j bare", (value, written) => {
    expect(quoteEnvValue(value)).toBe(written);
  });

  it.each([
    ["a b", "'a b'"],
    ["a #b", "'a #b'"],
    ["#start", "'#start'"],
    ["$HOME", "'$HOME'"],
    ["${X:-y}", "'${X:-y}'"],
    ['say "hi"', `'say "hi"'`],
    ["trailing ", "'trailing '"],
    ["tab\there", "'tab\there'"],
    ["ünïcode", "'ünïcode'"],
  ])("single-quotes %j (literal: no expansion, no escapes)", (value, written) => {
    expect(quoteEnvValue(value)).toBe(written);
  });

  it.each([
    ["it's", `"it's"`],
    ["back\\slash", `"back\\\\slash"`],
    ["ends\\", `"ends\\\\"`],
    ["it's $5", `"it's \\$5"`],
    [`'"\\$`, `"'\\"\\\\\\$"`],
    ["two\nlines", `"two\\nlines"`],
    ["cr\rlf", `"cr\\rlf"`],
  ])("double-quotes %j with escapes", (value, written) => {
    expect(quoteEnvValue(value)).toBe(written);
  });

  it("refuses NUL", () => {
    expect(() => quoteEnvValue("a\0b")).toThrow(UsageError);
  });
});

describe("renderEnvFile", () => {
  it("writes a header, commented sections and a final newline", () => {
    expect(
      renderEnvFile(["head"], [
        { comment: "one", entries: [["A", "1"], ["B", "x y"]] },
        { comment: "two\nlines", entries: [["C_2", ""]] },
      ]),
    ).toBe("# head\n\n# one\nA=1\nB='x y'\n\n# two\n# lines\nC_2=\n");
  });

  it("refuses bad and duplicate keys", () => {
    expect(() => renderEnvFile([], [{ comment: "x", entries: [["a-b", "1"]] }])).toThrow("invalid .env key 'a-b'");
    expect(() => renderEnvFile([], [{ comment: "x", entries: [["A", "1"]] }, { comment: "y", entries: [["A", "2"]] }])).toThrow(
      "duplicate .env key 'A'",
    );
  });
});
