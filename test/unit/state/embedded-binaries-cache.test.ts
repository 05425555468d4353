import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { reachableBinaries, type PgBinaries } from "../../../src/state/embedded/binaries.js";

// Running as root, the embedded store's binaries are copied once to a cache the server's
// account can reach (/var/cache/btw/embedded-postgres/<key>). Two homes start at once: the
// cache must be keyed by what the binaries are (not where they lie or the size and mtime of
// one file), and a copier that loses the race must use the winner's copy, not delete it
// under a server running from it (issue 22). Fake package trees and a temp cache; no
// postgres runs.

const race = vi.hoisted(() => ({ winner: null as null | ((building: string) => void), failCopy: false }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const cpSync = ((from: string, to: string, opts?: Parameters<typeof fs.cpSync>[2]) => {
    fs.cpSync(from, to, opts);
    // the disk fills up at the end of the copy: a half copy is on disk
    if (race.failCopy) throw Object.assign(new Error("ENOSPC: injected by the test"), { code: "ENOSPC" });
    const w = race.winner;
    race.winner = null;
    w?.(to);
  }) as typeof fs.cpSync;
  return { ...fs, default: { ...fs, cpSync }, cpSync };
});

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "btw-pgcache-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  race.winner = null;
  race.failCopy = false;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A package tree shaped like @embedded-postgres/<platform>: bin, lib (with a symlink), share. */
function fakeTree(parent: string, lib = "libpq v1"): PgBinaries {
  const root = path.join(parent, "native");
  mkdirSync(path.join(root, "bin"), { recursive: true });
  mkdirSync(path.join(root, "lib"));
  mkdirSync(path.join(root, "share"));
  for (const b of ["postgres", "initdb"]) {
    writeFileSync(path.join(root, "bin", b), `#!/bin/sh\necho ${b}\n`);
    chmodSync(path.join(root, "bin", b), 0o755);
  }
  writeFileSync(path.join(root, "lib", "libpq.so.5.17"), lib);
  symlinkSync("libpq.so.5.17", path.join(root, "lib", "libpq.so.5"));
  writeFileSync(path.join(root, "share", "postgres.bki"), "bki");
  return { initdb: path.join(root, "bin", "initdb"), postgres: path.join(root, "bin", "postgres"), source: "fake" };
}

const cacheRunnable = (cache: string) => (p: string) => p.startsWith(cache + path.sep);
const entryOf = (cache: string, b: PgBinaries) => path.relative(cache, b.postgres).split(path.sep)[0]!;

describe("the embedded store's binaries cache", () => {
  it("is keyed by content: the same binaries in two checkouts share one copy", () => {
    const cache = path.join(tempDir(), "cache");
    const a = reachableBinaries(fakeTree(tempDir()), cacheRunnable(cache), cache);
    const b = reachableBinaries(fakeTree(tempDir()), cacheRunnable(cache), cache);
    expect(b).toEqual({ ...a, source: expect.any(String) });
    expect(readdirSync(cache)).toEqual([entryOf(cache, a)]);
  });

  it("is keyed by content: binaries that differ only in a library (same path, postgres' size and mtime) get their own copy", () => {
    const cache = path.join(tempDir(), "cache");
    const bins = fakeTree(tempDir());
    const first = reachableBinaries(bins, cacheRunnable(cache), cache);
    const lib = path.join(bins.postgres, "..", "..", "lib", "libpq.so.5.17");
    writeFileSync(lib, "libpq v2");
    const second = reachableBinaries(bins, cacheRunnable(cache), cache);
    expect(second.postgres).not.toBe(first.postgres);
    expect(readFileSync(path.join(second.postgres, "..", "..", "lib", "libpq.so.5.17"), "utf8")).toBe("libpq v2");
  });

  it("a copier that loses the race uses the winner's copy and leaves it in place (a server may run from it)", () => {
    const tree = tempDir();
    const bins = fakeTree(tree);
    // the key this tree gets, from a cache of its own
    const probeCache = path.join(tempDir(), "cache");
    const key = entryOf(probeCache, reachableBinaries(bins, cacheRunnable(probeCache), probeCache));

    const cache = path.join(tempDir(), "cache");
    // while this copier copies, another one (another home) finishes first
    race.winner = () => {
      cpSync(path.join(tree, "native"), path.join(cache, key), { recursive: true, verbatimSymlinks: true });
      writeFileSync(path.join(cache, key, "winner"), "");
    };
    const got = reachableBinaries(bins, cacheRunnable(cache), cache);
    expect(got.postgres).toBe(path.join(cache, key, "bin", "postgres"));
    expect(existsSync(path.join(cache, key, "winner")), "the winner's copy is still the one in place").toBe(true);
    expect(readdirSync(cache), "the loser's copy is gone").toEqual([key]);
  });

  it("a copy that fails (disk full) leaves neither a cache entry nor its half copy; the next run copies", () => {
    const cache = path.join(tempDir(), "cache");
    const bins = fakeTree(tempDir());
    race.failCopy = true;
    expect(() => reachableBinaries(bins, cacheRunnable(cache), cache)).toThrow(/ENOSPC/);
    expect(readdirSync(cache)).toEqual([]);
    race.failCopy = false;
    const got = reachableBinaries(bins, cacheRunnable(cache), cache);
    expect(statSync(got.postgres).mode & 0o555).toBe(0o555);
    expect(statSync(path.join(got.postgres, "..")).mode & 0o777).toBe(0o755);
  });

  it("removes what a killed copier left an hour ago, not a copy under way", () => {
    const cache = path.join(tempDir(), "cache");
    const old = path.join(cache, ".0123456789abcdef.4242.0badf00d.tmp");
    const fresh = path.join(cache, ".0123456789abcdef.4343.0badf00d.tmp");
    mkdirSync(old, { recursive: true });
    mkdirSync(fresh);
    const hourAgo = new Date(Date.now() - 3600_000 - 60_000);
    utimesSync(old, hourAgo, hourAgo);
    const got = reachableBinaries(fakeTree(tempDir()), cacheRunnable(cache), cache);
    expect(readdirSync(cache).sort()).toEqual([path.basename(fresh), entryOf(cache, got)].sort());
  });

  it("a copy in place the account still cannot run is an error naming it, and is left in place", () => {
    const cache = path.join(tempDir(), "cache");
    const bins = fakeTree(tempDir());
    const got = reachableBinaries(bins, cacheRunnable(cache), cache);
    expect(() => reachableBinaries(bins, () => false, cache)).toThrow(expect.objectContaining({
      message: `the server's account cannot run ${got.postgres}`,
      hint: expect.stringMatching(/^remove .* and retry$/),
    }));
    expect(existsSync(got.postgres)).toBe(true);
  });
});
