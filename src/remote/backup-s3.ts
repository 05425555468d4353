import type { S3Client } from "@aws-sdk/client-s3";
import { PassThrough, Transform, type Readable } from "node:stream";
import type { Config } from "../config/schema.js";
import { ConfigError, NotFoundError, OperationError } from "../errors.js";
import type { BackupStorage } from "./backup-storage.js";
import { DeadlineError, seconds, watchStall, withDeadline } from "./deadline.js";

// Any S3-compatible store (AWS, Hetzner Object Storage, Ceph RGW, s3rver in tests). Uploads
// stream through @aws-sdk/lib-storage's multipart upload — a few parts in flight, so memory
// stays bounded — and an object appears only when CompleteMultipartUpload succeeds. A failed
// or aborted upload is aborted (its parts deleted); after a crash, removePartial aborts the
// multipart uploads left under the key and deletes the key.
//
// Every request has a deadline (deadline.ts): a call that answers once gets a total one; an
// upload or a download, which lasts as long as its data, a stall deadline (nothing moved
// while we waited on the store). A half-open socket fails the call with one line naming the
// request, the object and the endpoint, instead of holding a restore or a backup forever.

type S3Config = Extract<Config["backup"]["storage"], { type: "s3" }>;

const PART_SIZE = 8 * 1024 * 1024;
const QUEUE = 2;

export interface S3Deadlines {
  /** one request that answers once: list, delete, abort, the start of a download */
  callMs: number;
  /** an upload or a download: nothing moved for this long while we waited on the store */
  stallMs: number;
}

export const S3_DEADLINES: S3Deadlines = { callMs: 60_000, stallMs: 5 * 60_000 };

const HINT = "the object store did not answer: check backup.storage (endpoint, region) and the network to it";

export class S3Storage implements BackupStorage {
  readonly kind = "s3" as const;
  readonly root: string;

  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly sdk: typeof import("@aws-sdk/client-s3"),
    /** where requests go, for messages: the endpoint, or AWS's region */
    private readonly where: string,
    private readonly deadlines: S3Deadlines,
  ) {
    this.root = `s3://${bucket}/${prefix}`;
  }

  static async fromConfig(c: S3Config, env: NodeJS.ProcessEnv, deadlines: Partial<S3Deadlines> = {}): Promise<S3Storage> {
    const accessKeyId = env.BTW_S3_ACCESS_KEY_ID ?? c.accessKeyId ?? env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.BTW_S3_SECRET_ACCESS_KEY ?? c.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new ConfigError("no S3 credentials for backup.storage", {
        code: "s3-credentials-missing",
        hint: "set BTW_S3_ACCESS_KEY_ID and BTW_S3_SECRET_ACCESS_KEY (or backup.storage.accessKeyId/secretAccessKey)",
      });
    }
    const d = { ...S3_DEADLINES, ...deadlines };
    const sdk = await import("@aws-sdk/client-s3");
    const client = new sdk.S3Client({
      region: c.region,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      forcePathStyle: c.forcePathStyle,
      credentials: { accessKeyId, secretAccessKey },
      // Hetzner and other S3-compatibles reject the newer default checksums on some calls.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // the transport's own bounds, behind ours (which speak first, with the clearer message):
      // a request lib-storage has in flight takes no signal, and must still die on a dead socket
      requestHandler: { connectionTimeout: 2 * d.callMs, socketTimeout: 2 * d.stallMs },
    });
    const prefix = c.prefix === "" || c.prefix.endsWith("/") ? c.prefix : `${c.prefix}/`;
    return new S3Storage(client, c.bucket, prefix, sdk, c.endpoint ?? `AWS S3 (${c.region})`, d);
  }

  /** One request with its deadline: `send` passes the signal on as the SDK's abortSignal. */
  private call<T>(request: string, location: string, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = this.deadlines.callMs;
    return withDeadline({ ms, error: () => new DeadlineError(`S3 ${request} of ${location} at ${this.where} did not answer within ${seconds(ms)}`, { code: "s3-timeout", hint: HINT }) }, send);
  }

  private key(key: string): string {
    return `${this.prefix}${key}`;
  }

  location(key: string): string {
    return `s3://${this.bucket}/${this.key(key)}`;
  }

  keyOf(location: string): string | null {
    const head = `s3://${this.bucket}/${this.prefix}`;
    return location.startsWith(head) ? location.slice(head.length) : null;
  }

  async put(key: string, body: Readable, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { Upload } = await import("@aws-sdk/lib-storage");
    // Progress: bytes taken from the body, parts finished. The store is the one holding things
    // up when bytes wait for it (the meter's buffer is not empty) or the body is all taken.
    let watch: ReturnType<typeof watchStall> | undefined;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        watch?.progress();
        cb(null, chunk);
      },
    });
    body.pipe(meter);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: meter, ContentType: "application/octet-stream" },
      partSize: PART_SIZE,
      queueSize: QUEUE,
      leavePartsOnError: false,
    });
    let stalled: DeadlineError | null = null;
    let taken = false;
    meter.once("end", () => (taken = true));
    watch = watchStall({
      ms: this.deadlines.stallMs,
      blocked: () => taken || meter.readableLength > 0,
      onStall: () => {
        stalled = new DeadlineError(`S3 upload of ${this.location(key)} at ${this.where} made no progress for ${seconds(this.deadlines.stallMs)}`, { code: "s3-stalled", hint: HINT });
        void upload.abort().catch(() => {});
      },
    });
    upload.on("httpUploadProgress", () => watch?.progress());
    const onAbort = () => void upload.abort().catch(() => {});
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    // A failing body (the source broke) must fail the upload, not leave it waiting.
    const onBodyError = () => onAbort();
    body.once("error", onBodyError);
    try {
      await upload.done();
    } catch (e) {
      watch.stop();
      // Requests lib-storage had in flight (the create, a part) may land after the abort:
      // clean up now and once more a moment later — unless the store does not answer at all.
      const first = await this.removePartial(key).then(
        () => null,
        (err: unknown) => err,
      );
      if (!(first instanceof DeadlineError)) {
        await new Promise((r) => setTimeout(r, 1500));
        await this.removePartial(key).catch(() => {});
      }
      if (stalled) throw stalled;
      throw this.wrap(e, `upload of ${this.location(key)}`);
    } finally {
      watch.stop();
      opts.signal?.removeEventListener("abort", onAbort);
      body.off("error", onBodyError);
    }
  }

  async get(key: string): Promise<Readable> {
    const location = this.location(key);
    let body: Readable;
    try {
      const r = await this.call("GetObject", location, (abortSignal) => this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), { abortSignal }));
      body = r.Body as Readable;
    } catch (e) {
      if ((e as { name?: string }).name === "NoSuchKey") throw new NotFoundError("backup object", location, { hint: "it was pruned or moved; `btw backup list`" });
      throw this.wrap(e, `download of ${location}`);
    }
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    body.on("error", (e) => out.destroy(e));
    out.once("close", () => body.destroy());
    body.pipe(out);
    // stalled: we want bytes (not paused by our consumer, room in the buffer) and none come
    const watch = watchStall({
      ms: this.deadlines.stallMs,
      blocked: () => !body.readableEnded && !body.isPaused() && body.readableLength < body.readableHighWaterMark,
      onStall: () => body.destroy(new DeadlineError(`S3 download of ${location} at ${this.where} sent nothing for ${seconds(this.deadlines.stallMs)}`, { code: "s3-stalled", hint: HINT })),
    });
    body.on("data", () => watch.progress());
    body.once("close", () => watch.stop());
    return out;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.call("DeleteObject", this.location(key), (abortSignal) => this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), { abortSignal }));
    } catch (e) {
      if ((e as { name?: string }).name === "NoSuchKey") return;
      throw this.wrap(e, `delete of ${this.location(key)}`);
    }
  }

  async removePartial(key: string): Promise<void> {
    for (const u of await this.multipartUploads(this.key(key))) {
      if (u.key !== this.key(key)) continue;
      await this.call("AbortMultipartUpload", `s3://${this.bucket}/${u.key}`, (abortSignal) =>
        this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.key, UploadId: u.uploadId }), { abortSignal }),
      ).catch(() => {});
    }
    await this.delete(key);
  }

  async list(prefix = ""): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    try {
      for (;;) {
        const r = await this.call("ListObjectsV2", this.location(prefix), (abortSignal) =>
          this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }), { abortSignal }),
        );
        for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.prefix.length));
        if (!r.IsTruncated || !r.NextContinuationToken) return out.sort();
        token = r.NextContinuationToken;
      }
    } catch (e) {
      throw this.wrap(e, `listing of ${this.location(prefix)}`);
    }
  }

  async listPartials(): Promise<string[]> {
    return (await this.multipartUploads(this.prefix)).map((u) => u.key.slice(this.prefix.length));
  }

  private async multipartUploads(prefix: string): Promise<Array<{ key: string; uploadId: string }>> {
    try {
      const out: Array<{ key: string; uploadId: string }> = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const r = await this.call("ListMultipartUploads", `s3://${this.bucket}/${prefix}`, (abortSignal) =>
          this.client.send(new this.sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }), { abortSignal }),
        );
        for (const u of r.Uploads ?? []) if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId });
        if (!r.IsTruncated) return out;
        keyMarker = r.NextKeyMarker;
        uploadIdMarker = r.NextUploadIdMarker;
      }
    } catch (e) {
      // Some S3-compatibles do not implement the listing: nothing we can enumerate.
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return [];
      throw this.wrap(e, `listing of multipart uploads under s3://${this.bucket}/${prefix}`);
    }
  }

  private wrap(e: unknown, what: string): Error {
    if (e instanceof DeadlineError) return e;
    if (e instanceof Error && e.name === "AbortError") return e;
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode;
    return new OperationError(`S3 ${what} failed: ${err.name ?? "error"}${status ? ` (HTTP ${status})` : ""}: ${(err.message ?? String(e)).split("\n")[0]}`, {
      code: "s3-failed",
      hint: "check backup.storage (endpoint, bucket, region) and the S3 credentials",
      cause: e,
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
