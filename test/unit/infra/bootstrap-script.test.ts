// templates/cloud-init/bootstrap.sh itself: POSIX shell syntax, and its argument checks,
// which run before it looks at the host (so running it here changes nothing).
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./fixtures.js";

const SCRIPT = join(ROOT, "templates/cloud-init/bootstrap.sh");
const run = (...args: string[]) => spawnSync("sh", [SCRIPT, ...args], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });

describe("bootstrap.sh", () => {
  it("parses as POSIX sh (dash) and bash", () => {
    for (const shell of ["sh", "bash"]) expect(() => execFileSync(shell, ["-n", SCRIPT])).not.toThrow();
  });

  it("refuses values that would leave its character set (nothing reaches daemon.json unchecked)", () => {
    for (const args of [
      ["--insecure-registry", 'evil"]}, "x": ['],
      ["--insecure-registry", "reg;rm -rf /"],
      ["--log-max-size", "10m; reboot"],
      ["--log-max-file", "0"],
      ["--bogus", "1"],
      ["--log-max-file"],
    ]) {
      const r = run(...args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stdout).toMatch(/^btw-fail (invalid|unknown|missing)/);
    }
  });
});
