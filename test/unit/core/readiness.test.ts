import { describe, expect, it } from "vitest";
import { judgeServer, MIN_DISK_FREE_BYTES } from "../../../src/core/server/readiness.js";

const facts = {
  cpus: 4, memTotalBytes: 8 * 1024 ** 3, memAvailableBytes: 6 * 1024 ** 3, diskPath: "/var/lib/docker",
  diskTotalBytes: 100 * 1024 ** 3, diskFreeBytes: 80 * 1024 ** 3, kernel: "6.1", arch: "x86_64", os: "Debian",
};

describe("judgeServer", () => {
  it("is ready with an engine, Compose v2 and room", () => {
    expect(judgeServer("s1", { facts, engineVersion: "26.1.5", composeVersion: "2.26.1" })).toEqual({ status: "ready", problems: [] });
  });

  it("needs bootstrap without an engine, naming the command", () => {
    const v = judgeServer("s1", { facts, engineVersion: null, engineError: "docker: not found", composeVersion: null });
    expect(v.status).toBe("needs-bootstrap");
    expect(v.problems[0]).toBe("no Docker engine answers on s1 (docker: not found): run `btw server bootstrap s1`");
    expect(v.problems).toHaveLength(2);
  });

  it("refuses Compose v1", () => {
    expect(judgeServer("s1", { facts, engineVersion: "26.1.5", composeVersion: "1.29.2" }).status).toBe("needs-bootstrap");
  });

  it("is degraded when the disk is nearly full", () => {
    const v = judgeServer("s1", { facts: { ...facts, diskFreeBytes: MIN_DISK_FREE_BYTES - 1 }, engineVersion: "26", composeVersion: "2.26.1" });
    expect(v.status).toBe("degraded");
    expect(v.problems[0]).toMatch(/free on \/var\/lib\/docker/);
  });
});
