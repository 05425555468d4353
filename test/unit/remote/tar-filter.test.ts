import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { describe, expect, it } from "vitest";
import { isN8nCrashMarker, tarWithout } from "../../../src/remote/tar-filter.js";

const LONG = `.n8n/binaryData/${"x".repeat(140)}/file.bin`; // over ustar's 100 bytes: a PAX header

function archive(entries: Array<{ name: string; body?: string; type?: "directory" | "file"; mode?: number; uid?: number }>): Readable {
  const pack = tarStream.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? "file", mode: e.mode ?? 0o644, uid: e.uid ?? 1000, gid: 1000, mtime: new Date(1_700_000_000_000) }, e.body ?? "");
  pack.finalize();
  return pack as unknown as Readable;
}

async function entries(tar: Readable): Promise<Array<{ name: string; body: string; mode?: number; uid?: number; mtime?: Date }>> {
  const extract = tarStream.extract();
  const out: Array<{ name: string; body: string; mode?: number; uid?: number; mtime?: Date }> = [];
  const done = new Promise<void>((res, rej) => {
    extract.on("entry", (h, body, next) => {
      const chunks: Buffer[] = [];
      body.on("data", (c: Buffer) => chunks.push(c));
      body.on("end", () => {
        out.push({ name: h.name, body: Buffer.concat(chunks).toString(), mode: h.mode, uid: h.uid, mtime: h.mtime });
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
