import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../../src/errors.js";
import { parseSpoolList, SPOOL_LIST_SCRIPT, spoolList } from "../../../src/core/pitr/spool.js";

describe("spoolList: every PITR tenant's spool in one command", () => {
  // The script is real sh with GNU find, run on a directory laid out as a server's
  // /opt/btw/tenants/<t>/wal/{spool/,status}.
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = "";
  });

  const spool = (tenant: string, files: Record<string, number>, status?: string) => {
    const wal = join(dir, tenant, "wal");
    mkdirSync(join(wal, "spool"), { recursive: true });
    for (const [name, size] of Object.entries(files)) {
      const p = join(wal, "spool", name);
      writeFileSync(p, Buffer.alloc(size, 1));
      utimesSync(p, 1_700_000_000, 1_700_000_000 + size);
    }
    if (status !== undefined) writeFileSync(join(wal, "status"), status);
    return join(wal, "spool");
  };

  it("lists names, sizes and mtimes, the status's last line, and tells a missing spool", async () => {
    dir = mkdtempSync(join(tmpdir(), "btw-spool-"));
    const acme = spool(
      "acme",
      { "000000010000000000000003": 4096, "000000010000000000000004.partial": 8192, "00000002.history": 41, "000000010000000000000005.partial.tmp": 0 },
      "start 2026-01-01T00:00:00Z\nexit 2026-01-01T00:05:00Z 1\nstart 2026-01-01T00:05:05Z\n",
    );
    mkdirSync(join(acme, "archive_status"));
    writeFileSync(join(acme, "archive_status", "ignored"), "x");
    const beta = spool("beta", {}, "");
    const gamma = spool("gamma", { "000000010000000000000001.partial": 10 });
    const argv = spoolList([
      { tenant: "acme", dir: acme },
      { tenant: "beta", dir: beta },
      { tenant: "gone", dir: join(dir, "gone", "wal", "spool") },
      { tenant: "gamma", dir: gamma },
    ]);
    expect(argv.slice(0, 4)).toEqual(["sh", "-c", SPOOL_LIST_SCRIPT, "sh"]);
    const r = await execa(argv[0]!, argv.slice(1), { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const listing = parseSpoolList(r.stdout);
    expect([...listing.keys()]).toEqual(["acme", "beta", "gone", "gamma"]);
    const a = listing.get("acme")!;
    expect(a.state).toBe("ok");
    expect(a.status).toBe("start 2026-01-01T00:05:05Z");
    expect(a.files.sort((x, y) => (x.name < y.name ? -1 : 1))).toEqual([
      { name: "000000010000000000000003", size: 4096, mtime: 1_700_004_096 },
      { name: "000000010000000000000004.partial", size: 8192, mtime: 1_700_008_192 },
      { name: "000000010000000000000005.partial.tmp", size: 0, mtime: 1_700_000_000 },
      { name: "00000002.history", size: 41, mtime: 1_700_000_041 },
    ]);
    expect(listing.get("beta")).toEqual({ state: "ok", files: [], status: null });
    expect(listing.get("gone")).toEqual({ state: "missing", files: [], status: null });
    expect(listing.get("gamma")).toEqual({ state: "ok", files: [{ name: "000000010000000000000001.partial", size: 10, mtime: 1_700_000_010 }], status: null });
  });

  it("a status without a final newline still gives its last line; nothing to list prints nothing", async () => {
    dir = mkdtempSync(join(tmpdir(), "btw-spool-"));
    const acme = spool("acme", {}, "start 2026-01-01T00:00:00Z\npaused 2026-01-01T00:01:00Z spool-full");
    const r = await execa("sh", spoolList([{ tenant: "acme", dir: acme }]).slice(1));
    expect(parseSpoolList(r.stdout).get("acme")).toEqual({ state: "ok", files: [], status: "paused 2026-01-01T00:01:00Z spool-full" });
    const none = await execa("sh", spoolList([]).slice(1));
    expect(none.stdout).toBe("");
    expect(parseSpoolList(none.stdout).size).toBe(0);
  });

  it("a listing cut before its end marker, or a find that failed, is an error: plan nothing from it", () => {
    const out = ["\x1espool acme", "f 000000010000000000000003 16777216 1700000000.5", "\x1eend 0", "\x1espool beta", "f 000000010000000000000007 16777216 1700000000.0000000000", "\x1eend 1", "\x1espool gamma", "f 00000001000000000000000"].join("\n");
    const l = parseSpoolList(out);
    expect(l.get("acme")).toEqual({ state: "ok", files: [{ name: "000000010000000000000003", size: 16_777_216, mtime: 1_700_000_000.5 }], status: null });
    expect(l.get("beta")?.state).toBe("error");
    expect(l.get("gamma")).toEqual({ state: "error", files: [], status: null });
  });

  it("validates tenants and directories before building the command", () => {
    const ok = { tenant: "acme", dir: "/opt/btw/tenants/acme/wal/spool" };
    expect(spoolList([ok])).toEqual(["sh", "-c", SPOOL_LIST_SCRIPT, "sh", "acme", "/opt/btw/tenants/acme/wal/spool"]);
    for (const bad of [
      { tenant: "Acme", dir: ok.dir },
      { tenant: "-acme", dir: ok.dir },
      { tenant: "ac me", dir: ok.dir },
      { tenant: "acme", dir: "opt/btw/tenants/acme/wal/spool" },
      { tenant: "acme", dir: "/opt/btw/tenants/acme/wal/spool/" },
      { tenant: "acme", dir: "/opt/btw/tenants/../wal/spool" },
      { tenant: "acme", dir: "/opt/btw/tenants/./acme/spool" },
      { tenant: "acme", dir: "/opt/btw/tenants/acme wal/spool" },
      { tenant: "acme", dir: "/opt/btw/tenants/$(id)/spool" },
      { tenant: "acme", dir: "/" },
    ]) {
      expect(() => spoolList([bad]), JSON.stringify(bad)).toThrow(UsageError);
    }
    expect(() => spoolList([ok, { ...ok }])).toThrow(/twice/);
  });
});
