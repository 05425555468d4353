import { mkdtempSync, rmSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A local S3-compatible server on loopback for tests: s3rver (npm), plus the two calls it
// lacks and btw relies on to clean up interrupted uploads — ListMultipartUploads and
// AbortMultipartUpload — answered from s3rver's own upload directory.

export interface FakeS3 {
  endpoint: string;
  bucket: string;
  dir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** unfinished multipart uploads (their keys) as stored on disk */
  pendingUploads(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startFakeS3(bucket = "btw-backups"): Promise<FakeS3> {
  const dir = mkdtempSync(join(tmpdir(), "btw-s3-"));
  const mod = "s3rver"; // untyped package: loaded by name so tsc does not look for types
  const { default: S3rver } = (await import(mod)) as { default: new (o: Record<string, unknown>) => S3rverLike };
  const s3 = new S3rver({ directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
  await s3.configureBuckets?.();
  const store = s3.store;
  const uploadsDir = (b: string) => store.getResourcePath(b, undefined, "uploads");
  const pending = async (b: string) => {
    const root = uploadsDir(b);
    const out: Array<{ key: string; uploadId: string }> = [];
    for (const id of await readdir(root).catch(() => [] as string[])) {
      const key = await readFile(join(root, id, "key"), "utf8").catch(() => null);
      if (key !== null) out.push({ key, uploadId: id });
    }
    return out;
  };
  const koa = s3.callback();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const [, b, ...rest] = url.pathname.split("/");
    const key = decodeURIComponent(rest.join("/"));
    if (req.method === "GET" && b && !key && url.searchParams.has("uploads")) {
      const prefix = url.searchParams.get("prefix") ?? "";
      void pending(b).then((list) => {
        const items = list
          .filter((u) => u.key.startsWith(prefix))
          .map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.uploadId}</UploadId></Upload>`)
          .join("");
        res.writeHead(200, { "content-type": "application/xml" });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${b}</Bucket><IsTruncated>false</IsTruncated>${items}</ListMultipartUploadsResult>`);
      });
      return;
    }
    if (req.method === "DELETE" && b && key && url.searchParams.has("uploadId")) {
      const id = url.searchParams.get("uploadId")!;
      if (!/^[A-Za-z0-9_-]+$/.test(id)) {
        res.writeHead(400).end();
        return;
      }
      void rm(join(uploadsDir(b), id), { recursive: true, force: true }).then(() => res.writeHead(204).end());
      return;
    }
    koa(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    dir,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    pendingUploads: async () => (await pending(bucket)).map((u) => u.key),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface S3rverLike {
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  configureBuckets?: () => Promise<void>;
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
