import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { describe, expect, it } from "vitest";
import { isN8nCrashMarker, n8nDataEntry, tarRewrite, tarWithout } from "../../../src/remote/tar-filter.js";

const LONG = `.n8n/binaryData/${"x".repeat(140)}/file.bin`; // over ustar's 100 bytes: a PAX header

function archive(entries: Array<{ name: string; body?: string; type?: "directory" | "file" | "link" | "symlink"; linkname?: string; mode?: number; uid?: number }>): Readable {
  const pack = tarStream.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname, mode: e.mode ?? 0o644, uid: e.uid ?? 1000, gid: 1000, mtime: new Date(1_700_000_000_000) }, e.type === "link" || e.type === "symlink" ? undefined : (e.body ?? ""));
  pack.finalize();
  return pack as unknown as Readable;
}

async function entries(tar: Readable): Promise<Array<{ name: string; body: string; mode?: number; uid?: number; mtime?: Date; linkname?: string | null }>> {
  const extract = tarStream.extract();
  const out: Array<{ name: string; body: string; mode?: number; uid?: number; mtime?: Date; linkname?: string | null }> = [];
  const done = new Promise<void>((res, rej) => {
    extract.on("entry", (h, body, next) => {
      const chunks: Buffer[] = [];
      body.on("data", (c: Buffer) => chunks.push(c));
      body.on("end", () => {
        out.push({ name: h.name, body: Buffer.concat(chunks).toString(), mode: h.mode, uid: h.uid, mtime: h.mtime, linkname: h.linkname });
        next();
      });
    });
    extract.on("finish", res);
    extract.on("error", rej);
  });
  tar.pipe(extract);
  await done;
  return out;
}

describe("an archive of n8n's files without its crash marker", () => {
  it("drops .n8n/crash.journal and passes every other entry as it was: body, mode, owner, time, long names", async () => {
    const got = await entries(
      tarWithout(
        archive([
          { name: ".n8n/", type: "directory", mode: 0o755 },
          { name: ".n8n/config", body: '{"encryptionKey":"k"}', mode: 0o600 },
          { name: ".n8n/crash.journal", body: "" },
          { name: LONG, body: "binary", uid: 1001 },
        ]),
        isN8nCrashMarker,
      ),
    );
    expect(got.map((e) => e.name)).toEqual([".n8n/", ".n8n/config", LONG]);
    expect(got[1]).toMatchObject({ body: '{"encryptionKey":"k"}', mode: 0o600, uid: 1000 });
    expect(got[2]).toMatchObject({ body: "binary", uid: 1001 });
    expect(got[2]!.mtime?.getTime()).toBe(1_700_000_000_000);
  });

  it("knows the marker by its path only", () => {
    expect(isN8nCrashMarker(".n8n/crash.journal")).toBe(true);
    expect(isN8nCrashMarker("./.n8n/crash.journal")).toBe(true);
    expect(isN8nCrashMarker(".n8n/binaryData/crash.journal")).toBe(false);
    expect(isN8nCrashMarker("crash.journal")).toBe(false);
  });

  it("an input that fails fails the output", async () => {
    const broken = new Readable({ read() {} });
    const out = tarWithout(broken, isN8nCrashMarker);
    const failed = new Promise((res) => out.once("error", res));
    broken.destroy(new Error("the download broke"));
    expect(String(await failed)).toMatch(/the download broke/);
  });
});

describe("n8n's data archive put into the data volume itself (a read-only root filesystem, issue 24)", () => {
  it("re-roots .n8n/ at the volume: the directory becomes ./, hard links follow their entries, symbolic links keep their targets, the crash marker is left out", async () => {
    const got = await entries(
      tarRewrite(
        archive([
          { name: ".n8n/", type: "directory", mode: 0o700 },
          { name: ".n8n/config", body: '{"encryptionKey":"k"}', mode: 0o600 },
          { name: "./.n8n/crash.journal", body: "" },
          { name: LONG, body: "binary", uid: 1001 },
          { name: ".n8n/hard", type: "link", linkname: ".n8n/config" },
          { name: ".n8n/soft", type: "symlink", linkname: "/home/node/.n8n/config" },
        ]),
        n8nDataEntry,
      ),
    );
    expect(got.map((e) => e.name)).toEqual(["./", "config", LONG.slice(".n8n/".length), "hard", "soft"]);
    expect(got[0]).toMatchObject({ mode: 0o700 });
    expect(got[1]).toMatchObject({ body: '{"encryptionKey":"k"}', mode: 0o600, uid: 1000 });
    expect(got[2]).toMatchObject({ body: "binary", uid: 1001 });
    expect(got[3]!.linkname).toBe("config");
    expect(got[4]!.linkname).toBe("/home/node/.n8n/config");
  });

  it("an entry outside .n8n/ fails the stream instead of being written anywhere", async () => {
    const out = tarRewrite(archive([{ name: ".n8n/config", body: "x" }, { name: ".bashrc", body: "evil" }]), n8nDataEntry);
    const failed = new Promise((res) => out.once("error", res));
    out.resume();
    expect(String(await failed)).toMatch(/outside \.n8n\/: not a btw archive/);
    expect(() => n8nDataEntry("../etc/passwd")).toThrow(/outside \.n8n\//);
    expect(n8nDataEntry(".n8n")).toBe("./");
  });
});
