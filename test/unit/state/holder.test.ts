import { describe, expect, it } from "vitest";
import { describeHolder, formatApplicationName, parseApplicationName } from "../../../src/state/holder.js";

describe("application_name", () => {
  it("round-trips pid, host and command", () => {
    const name = formatApplicationName({ pid: 1234, host: "ops-laptop", command: "tenant create acme" });
    expect(name).toBe("btw:1234@ops-laptop:tenant create acme");
    expect(parseApplicationName(name)).toEqual({ pid: 1234, host: "ops-laptop", command: "tenant create acme" });
    expect(parseApplicationName(formatApplicationName({ pid: 7, host: "h" }))).toEqual({ pid: 7, host: "h" });
  });

  it("fits PostgreSQL's 63-byte limit and stays ASCII", () => {
    const name = formatApplicationName({ pid: 1, host: "h", command: `tenant create ${"x".repeat(80)} café` });
    expect(name.length).toBe(63);
    expect(formatApplicationName({ pid: 1, host: "h", command: "café" })).toBe("btw:1@h:caf?");
  });

  it("is not fooled by other applications", () => {
    expect(parseApplicationName("psql")).toBeNull();
    expect(parseApplicationName("")).toBeNull();
    expect(parseApplicationName(null)).toBeNull();
    expect(parseApplicationName("btw:abc@h")).toBeNull();
  });
});

describe("describeHolder", () => {
  it("omits our own host and shows another one", () => {
    expect(describeHolder({ pid: 5, host: "here", command: "backup all" }, { localHost: "here" })).toBe("pid 5 (btw backup all)");
    expect(describeHolder({ pid: 5, host: "cron-box", since: "2026-01-01T00:00:00.000Z" }, { localHost: "here" })).toBe(
      "pid 5 on host cron-box since 2026-01-01T00:00:00.000Z",
    );
  });

  it("names a non-btw PostgreSQL session by backend pid and application", () => {
    expect(describeHolder({ pid: 99, host: "", application: "psql" })).toBe("PostgreSQL session pid 99 (application 'psql')");
    expect(describeHolder({ pid: 99, host: "", application: "" })).toBe("PostgreSQL session pid 99");
  });
});
