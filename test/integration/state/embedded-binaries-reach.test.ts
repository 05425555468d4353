import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findPgBinaries, reachableBinaries } from "../../../src/state/embedded/binaries.js";
import { tempHome } from "../../support/cli.js";

// Running as root, the embedded store's server runs as an unprivileged account, which cannot
// reach binaries below a 0700 directory (a checkout under /root, a `mktemp -d` clone): btw
// copies them once to a cache it can reach. Both the copy (a real package tree, with a fake
// "can run" probe) and the whole path (btw init and a query with the binaries below a 0700
// directory) on the real server.
describe("embedded store binaries out of the server account's reach", () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "btw-pgbin-")); // 0700
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("copies the package's tree (bin, lib, share) into the cache, every directory 0755, once", async () => {
    const bins = await findPgBinaries({});
    const cache = join(dir(), "cache");
    let probes = 0;
    const copied = reachableBinaries(bins, (p) => (probes++, p.startsWith(cache)), cache);
    expect(copied.postgres.startsWith(cache)).toBe(true);
    for (const sub of ["bin", "lib", "share"]) expect(existsSync(join(copied.postgres, "..", "..", sub)), sub).toBe(true);
    expect(statSync(join(copied.postgres, "..")).mode & 0o777).toBe(0o755);
    expect(statSync(copied.postgres).mode & 0o555).toBe(0o555);
    // the second time: the copy is found, not made again
    const mtime = statSync(join(copied.postgres, "..", "..")).mtimeMs;
    expect(reachableBinaries(bins, (p) => p.startsWith(cache), cache)).toEqual(copied);
    expect(statSync(join(copied.postgres, "..", "..")).mtimeMs).toBe(mtime);
    expect(probes).toBe(1);
    // binaries the account can run are used in place
    expect(reachableBinaries(bins, () => true, cache)).toBe(bins);
  });

  it("btw init and a query work with the binaries below a 0700 directory", async () => {
    const bins = await findPgBinaries({});
    const hidden = dir();
    cpSync(join(bins.postgres, "..", ".."), join(hidden, "native"), { recursive: true, verbatimSymlinks: true });
    const home = tempHome({ BTW_POSTGRES_BIN: join(hidden, "native", "bin") });
    try {
      const init = await home.run(["init", "--domain", "example.com", "--non-interactive"]);
      expect(init.code, init.stderr).toBe(0);
      const list = await home.run(["server", "list", "--json"]);
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual({ servers: [] });
    } finally {
      await home.run(["db", "stop"]);
      home.cleanup();
    }
  });
});
