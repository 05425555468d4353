import type Dockerode from "dockerode";
import { PassThrough, Transform, type Readable, type TransformCallback } from "node:stream";
import { ByteQueue } from "../core/backup/byte-queue.js";
import { OperationError } from "../errors.js";
import { dockerCall, dockerStall } from "./docker.js";

// Streaming out of containers through the Docker API (dockerode over the SSH-forwarded
// socket): `docker exec` with stdout as a stream and its exit code checked at the end, and
// the archive endpoint for a directory as tar. Nothing is written on the server. Each call
// has its deadline and each stream its stall deadline (docker.ts): a hung engine fails them.

/**
 * Splits Docker's multiplexed exec stream (8-byte frame headers) into stdout, with
 * backpressure (dockerode's demuxStream ignores it), and keeps the tail of stderr.
 */
class Demux extends Transform {
  private readonly q = new ByteQueue();
  stderrTail = "";

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.q.push(data);
    while (this.q.length >= 8) {
      const head = this.q.peek(8);
      const kind = head.readUInt8(0);
      const size = head.readUInt32BE(4);
      if (this.q.length < 8 + size) break;
      this.q.skip(8);
      const payload = size > 0 ? this.q.take(size) : Buffer.alloc(0);
      if (kind === 1) this.push(Buffer.from(payload));
      else if (kind === 2) this.stderrTail = (this.stderrTail + payload.toString("utf8")).slice(-4096);
    }
    cb();
  }
}

export interface ExecStream {
  stdout: Readable;
  /** after stdout ended: resolves on exit 0, else throws with the stderr tail */
  finished(): Promise<void>;
}

export async function execStream(docker: Dockerode, container: string, cmd: readonly string[], what: string): Promise<ExecStream> {
  const call = <T>(step: string, fn: (abortSignal: AbortSignal) => Promise<T>) => dockerCall(docker, `${step} of ${what} in ${container}`, fn);
  const exec = await call("the exec create", (abortSignal) =>
    docker.getContainer(container).exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false, abortSignal }),
  );
  const raw = (await call("the exec start", (abortSignal) => exec.start({ hijack: true, stdin: false, abortSignal }))) as unknown as Readable;
  const demux = new Demux();
  raw.on("error", (e) => demux.destroy(e));
  // A consumer that gives up (a failed upload) must not leave the command blocked on a full
  // pipe: closing our end of the exec stream makes it fail on its next write.
  demux.once("close", () => raw.destroy());
  raw.pipe(demux);
  // stalled: we want output (not paused by our consumer, room in the buffer) and none comes
  const watch = dockerStall(docker, raw, `the output of ${what} in ${container}`, () => !raw.readableEnded && !raw.isPaused() && raw.readableLength < raw.readableHighWaterMark);
  raw.on("data", () => watch.progress());
  raw.once("end", () => watch.stop());
  let ended = false;
  demux.once("end", () => (ended = true));
  return {
    stdout: demux,
    finished: async () => {
      if (!ended) await new Promise<void>((res, rej) => (demux.once("end", res), demux.once("error", rej)));
      // The exit code can lag the end of the stream by a moment.
      for (let i = 0; i < 250; i++) {
        const info = await call("the exec status", (abortSignal) => exec.inspect({ abortSignal }));
        if (!info.Running && info.ExitCode !== null) {
          if (info.ExitCode === 0) return;
          const tail = demux.stderrTail.trim().split("\n").pop() ?? "";
          throw new OperationError(`${what} in ${container} exited ${info.ExitCode}${tail ? `: ${tail}` : ""}`, { code: "container-exec-failed" });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new OperationError(`${what} in ${container}: no exit code after its output ended`, { code: "container-exec-failed" });
    },
  };
}

/** Runs a short command in a container and returns its stdout (throws on a non-zero exit). */
export async function execText(docker: Dockerode, container: string, cmd: readonly string[], what: string): Promise<string> {
  const s = await execStream(docker, container, cmd, what);
  const chunks: Buffer[] = [];
  for await (const c of s.stdout as AsyncIterable<Buffer>) chunks.push(c);
  await s.finished();
  return Buffer.concat(chunks).toString("utf8");
}

/** A directory of a container (running or stopped) as a tar stream, e.g. /home/node/.n8n. */
export async function archiveOut(docker: Dockerode, container: string, path: string): Promise<Readable> {
  const s = (await dockerCall(docker, `the archive of ${path} in ${container}`, (abortSignal) => docker.getContainer(container).getArchive({ path, abortSignal }))) as unknown as Readable;
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  s.on("error", (e) => out.destroy(e));
  out.once("close", () => (s as Readable).destroy?.());
  s.pipe(out);
  // stalled: we want the archive (not paused by our consumer, room in the buffer) and none comes
  const watch = dockerStall(docker, s, `the archive of ${path} in ${container}`, () => !s.readableEnded && !s.isPaused() && s.readableLength < s.readableHighWaterMark);
  s.on("data", () => watch.progress());
  s.once("end", () => watch.stop());
  return out;
}

/**
 * Extracts a tar stream into a directory of a (created or running) container. Stalled: the
 * engine takes none of the bytes waiting for it; once it has them all, its answer has the
 * call deadline. On failure `tar` is destroyed too, so whoever writes it stops waiting.
 */
export async function archiveIn(docker: Dockerode, container: string, path: string, tar: Readable): Promise<void> {
  const what = `the extraction into ${path} in ${container}`;
  // bytes are counted as they enter the meter; the engine not reading leaves them in its buffer
  let watch: ReturnType<typeof dockerStall> | undefined;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      watch?.progress();
      cb(null, chunk);
    },
  });
  watch = dockerStall(docker, meter, what, () => meter.readableLength > 0);
  tar.on("error", (e) => meter.destroy(e));
  tar.pipe(meter);
  const stalled = new Promise<never>((_, reject) => meter.once("error", reject));
  stalled.catch(() => {});
  // all bytes taken: from here on, the engine's answer is one call's
  const sent = new Promise<void>((res) => meter.once("end", res));
  const abort = new AbortController();
  try {
    const put = docker.getContainer(container).putArchive(meter as unknown as NodeJS.ReadableStream, { path, abortSignal: abort.signal });
    put.catch(() => {});
    await Promise.race([sent, put, stalled]);
    watch.stop();
    await Promise.race([dockerCall(docker, what, () => put), stalled]);
  } catch (e) {
    watch.stop();
    const err = e instanceof Error ? e : new Error(String(e));
    abort.abort(err);
    if (!meter.destroyed) meter.destroy();
    tar.destroy(err);
    throw err;
  }
}

export interface ContainerFacts {
  image: string | null;
  running: boolean;
}

export async function containerFacts(docker: Dockerode, container: string): Promise<ContainerFacts | null> {
  try {
    const i = await dockerCall(docker, `the inspection of ${container}`, (abortSignal) => docker.getContainer(container).inspect({ abortSignal }));
    return { image: i.Config?.Image ?? null, running: i.State?.Running === true };
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw e;
  }
}

/** Image and state of every btw container on the engine, in one call (by container name). */
export async function allContainerFacts(docker: Dockerode): Promise<Map<string, ContainerFacts & { imageId: string }>> {
  const list = await dockerCall(docker, "the listing of btw's containers", (abortSignal) => docker.listContainers({ all: true, filters: { label: ["btw.tenant"] }, abortSignal }));
  return new Map(list.map((c) => [(c.Names[0] ?? c.Id).replace(/^\//, ""), { image: c.Image ?? null, imageId: c.ImageID, running: c.State === "running" }]));
}
