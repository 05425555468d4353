import { describe, expect, it } from "vitest";
import { nameProblem, SERVER_NAME, TENANT_NAME } from "../../../src/core/names.js";

describe("tenant names", () => {
  it.each(["acme", "a-1", "abc", "x".repeat(32), "team-42-prod"])("accepts %j", (n) => {
    expect(nameProblem(n, TENANT_NAME)).toBeNull();
  });

  it.each([
    ["Acme", /uppercase/],
    ["ac me", /only contain/],
    ["a;rm -rf /", /only contain/],
    ["$(id)", /only contain/],
    ["-acme", /start or end/],
    ["acme-", /start or end/],
    ["ab", /3–32/],
    ["x".repeat(33), /3–32/],
    ["www", /reserved/],
    ["api", /reserved/],
    ["admin", /reserved/],
    ["a--b", /--/],
    ["acmé", /only contain/],
  ])("rejects %j", (n, why) => {
    expect(nameProblem(n, TENANT_NAME)).toMatch(why);
  });
});

describe("server names", () => {
  it("allows short names and rejects metacharacters", () => {
    expect(nameProblem("lab-1", SERVER_NAME)).toBeNull();
    expect(nameProblem("s", SERVER_NAME)).toBeNull();
    expect(nameProblem("lab 1", SERVER_NAME)).toMatch(/only contain/);
  });
});
