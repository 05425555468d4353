import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { HOST_FACTS_SCRIPT, hostFacts, parseHostFacts } from "../../../../src/core/commands/host-facts.js";

const SAMPLE = [
  "cpus=4",
  "mem_total_kb=8000000",
  "mem_available_kb=6000000",
  "disk_path=/var/lib/docker",
  "disk_total_kb=80000000",
  "disk_free_kb=50000000",
  "kernel=6.1.0-25-amd64",
  "arch=x86_64",
  "os=Debian GNU/Linux 12 (bookworm)",
  "",
].join("\n");

describe("hostFacts", () => {
  it("is one constant sh -c script", () => {
    expect(hostFacts()).toEqual(["sh", "-c", HOST_FACTS_SCRIPT]);
  });

  it("parses key=value lines into bytes and strings", () => {
    expect(parseHostFacts(SAMPLE)).toEqual({
      cpus: 4,
      memTotalBytes: 8_000_000 * 1024,
      memAvailableBytes: 6_000_000 * 1024,
      diskPath: "/var/lib/docker",
      diskTotalBytes: 80_000_000 * 1024,
      diskFreeBytes: 50_000_000 * 1024,
      kernel: "6.1.0-25-amd64",
      arch: "x86_64",
      os: "Debian GNU/Linux 12 (bookworm)",
    });
  });

  it("keeps '=' inside values and reports an unknown OS as unknown", () => {
    const facts = parseHostFacts(SAMPLE.replace("kernel=6.1.0-25-amd64", "kernel=a=b").replace(/os=.*\n/, ""));
    expect(facts.kernel).toBe("a=b");
    expect(facts.os).toBe("unknown");
  });

  it("names every missing or malformed key", () => {
    let err: { code?: string; message?: string } = {};
    try {
      parseHostFacts(SAMPLE.replace("cpus=4", "cpus=four").replace(/disk_free_kb=.*\n/, ""));
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe("host-facts-unparsable");
    expect(err.message).toBe("unexpected host facts output: cpus not a number, disk_free_kb missing");
  });

  it("produces parseable facts on this Linux machine (real sh)", () => {
    const [cmd, ...args] = hostFacts();
    const r = spawnSync(cmd!, args, { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const facts = parseHostFacts(r.stdout);
    expect(facts.cpus).toBeGreaterThan(0);
    expect(facts.memTotalBytes).toBeGreaterThanOrEqual(facts.memAvailableBytes);
    expect(facts.diskTotalBytes).toBeGreaterThan(0);
    expect(["/var/lib/docker", "/"]).toContain(facts.diskPath);
  });
});
