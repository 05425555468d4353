// issue 22 item 11: Docker API and S3 calls had no deadline outside `backup all`: a hung dockerd
// or a half-open S3 socket held a restore, a migration or an upgrade — and its maintenance
// page and tenant lock — forever. Here the real Docker and S3 clients btw uses talk to fakes
// of those APIs that accept the connection and then hang (test/support/hung-apis.ts); each
// call must fail within its deadline with one line naming what hung and where.
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { archiveIn, archiveOut, containerFacts, execText } from "../../../src/remote/backup-exec.js";
import { S3Storage } from "../../../src/remote/backup-s3.js";
import { DeadlineError } from "../../../src/remote/deadline.js";
import { dockerAt, listBtwContainers } from "../../../src/remote/docker.js";
import { startHungDockerApi, startHungS3, type HungApi, type HungDockerMode } from "../../support/hung-apis.js";

const CALL_MS = 500;
const STALL_MS = 800;
/** a deadline is a bound, not a stopwatch: the failure comes after it, and not much later */
const SLACK_MS = 2500;

let fake: HungApi | undefined;
let closeStorage: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeStorage?.();
  closeStorage = undefined;
  await fake?.close();
  fake = undefined;
});

async function engine(mode: HungDockerMode) {
  fake = await startHungDockerApi(mode);
  return dockerAt(fake.address, "lab-9", { callMs: CALL_MS, stallMs: STALL_MS });
}

/** How `p` fails, and after how long. */
async function failure(p: Promise<unknown>): Promise<{ error: DeadlineError; ms: number }> {
  const t0 = Date.now();
  const error = await p.then(
    () => {
      throw new Error("it did not fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeadlineError);
  return { error: error as DeadlineError, ms: Date.now() - t0 };
}

describe("a Docker engine that accepts the connection and never answers (FAKE Docker API)", () => {
  it("listing the containers fails after the call deadline, naming the call and the server", async () => {
    const docker = await engine("silent");
    const { error, ms } = await failure(listBtwContainers(docker));
    expect(error.message).toBe("the Docker API on server 'lab-9' did not answer the listing of btw's containers within 500 ms");
    expect(error).toMatchObject({ code: "docker-timeout", server: "lab-9", hint: "is its Docker engine hung? check with: btw server check lab-9" });
    expect(ms).toBeGreaterThanOrEqual(CALL_MS - 50);
    expect(ms).toBeLessThan(CALL_MS + SLACK_MS);
    expect(fake!.requests).toEqual([expect.stringMatching(/^GET \/.*containers\/json/)]);
  });

  it("inspecting a container (restore, upgrade and migrate read images and state this way) fails the same way", async () => {
    const docker = await engine("silent");
    const { error, ms } = await failure(containerFacts(docker, "btw-acme-n8n"));
    expect(error.message).toBe("the Docker API on server 'lab-9' did not answer the inspection of btw-acme-n8n within 500 ms");
    expect(ms).toBeLessThan(CALL_MS + SLACK_MS);
  });

  it("an exec in a container whose start is never answered fails after the call deadline", async () => {
    const docker = await engine("silent");
    const { error } = await failure(execText(docker, "btw-acme-postgres", ["psql", "-c", "select 1"], "row counts"));
    expect(error.message).toBe("the Docker API on server 'lab-9' did not answer the exec create of row counts in btw-acme-postgres within 500 ms");
  });

  it("an exec whose output never comes (started, then silent) fails after the stall deadline, naming the command and the container", async () => {
    const docker = await engine("exec-then-silent");
    const { error, ms } = await failure(execText(docker, "btw-acme-postgres", ["pg_dump"], "pg_dump"));
    expect(error.message).toBe("the Docker API on server 'lab-9' moved no data for 800 ms: the output of pg_dump in btw-acme-postgres");
    expect(error).toMatchObject({ code: "docker-stalled", server: "lab-9" });
    expect(ms).toBeGreaterThanOrEqual(STALL_MS - 50);
    expect(ms).toBeLessThan(STALL_MS + SLACK_MS);
  });

  it("an archive out of a container that stops mid-stream fails its reader after the stall deadline", async () => {
    const docker = await engine("archive-then-silent");
    const out = await archiveOut(docker, "btw-acme-n8n", "/home/node/.n8n");
    const { error, ms } = await failure(buffer(out));
    expect(error.message).toBe("the Docker API on server 'lab-9' moved no data for 800 ms: the archive of /home/node/.n8n in btw-acme-n8n");
    expect(ms).toBeLessThan(STALL_MS + SLACK_MS);
  });

  it("an archive into a container whose engine takes none of the bytes fails after the stall deadline, and its input is destroyed (the writer stops waiting)", async () => {
    const docker = await engine("takes-nothing");
    let produced = 0;
    // 64 MiB on demand: far more than the socket buffers hold
    const tar = new Readable({
      read() {
        if (produced >= 64 * 1024 * 1024) return void this.push(null);
        produced += 256 * 1024;
        this.push(Buffer.alloc(256 * 1024));
      },
    });
    const { error, ms } = await failure(archiveIn(docker, "btw-acme-n8n", "/home/node", tar));
    expect(error.message).toBe("the Docker API on server 'lab-9' moved no data for 800 ms: the extraction into /home/node in btw-acme-n8n");
    expect(ms).toBeLessThan(STALL_MS + SLACK_MS);
    expect(tar.destroyed).toBe(true);
    expect(produced).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("an S3 endpoint that accepts the connection and never answers (FAKE S3 API, a half-open store)", () => {
  async function store(mode: "silent" | "body-then-silent" = "silent") {
    fake = await startHungS3(mode);
    const storage = await S3Storage.fromConfig(
      { type: "s3", endpoint: fake.address, region: "us-east-1", bucket: "btw-backups", prefix: "btw/", forcePathStyle: true },
      { BTW_S3_ACCESS_KEY_ID: "test", BTW_S3_SECRET_ACCESS_KEY: "test-secret" },
      { callMs: CALL_MS, stallMs: STALL_MS },
    );
    closeStorage = () => storage.close();
    return { storage, endpoint: fake.address };
  }

  it("a listing (backup import, prune, cleanup) fails after the call deadline, naming the request, the location and the endpoint", async () => {
    const { storage, endpoint } = await store();
    const { error, ms } = await failure(storage.list("acme/"));
    expect(error.message).toBe(`S3 ListObjectsV2 of s3://btw-backups/btw/acme/ at ${endpoint} did not answer within 500 ms`);
    expect(error).toMatchObject({ code: "s3-timeout" });
    expect(error.hint).toMatch(/backup\.storage/);
    expect(ms).toBeLessThan(CALL_MS + SLACK_MS);
  });

  it("a download (restore) whose request is never answered fails after the call deadline", async () => {
    const { storage, endpoint } = await store();
    const { error, ms } = await failure(storage.get("acme/acme-1.age"));
    expect(error.message).toBe(`S3 GetObject of s3://btw-backups/btw/acme/acme-1.age at ${endpoint} did not answer within 500 ms`);
    expect(ms).toBeLessThan(CALL_MS + SLACK_MS);
  });

  it("a download that stops mid-object fails its reader after the stall deadline", async () => {
    const { storage, endpoint } = await store("body-then-silent");
    const body = await storage.get("acme/acme-1.age");
    const { error, ms } = await failure(buffer(body));
    expect(error.message).toBe(`S3 download of s3://btw-backups/btw/acme/acme-1.age at ${endpoint} sent nothing for 800 ms`);
    expect(error).toMatchObject({ code: "s3-stalled" });
    expect(ms).toBeLessThan(STALL_MS + SLACK_MS);
  });

  it("an upload (backup) the store never answers fails after the stall deadline; its clean-up is bounded too", async () => {
    const { storage, endpoint } = await store();
    const { error, ms } = await failure(storage.put("acme/acme-2.age", Readable.from([Buffer.alloc(64 * 1024)])));
    expect(error.message).toBe(`S3 upload of s3://btw-backups/btw/acme/acme-2.age at ${endpoint} made no progress for 800 ms`);
    expect(error).toMatchObject({ code: "s3-stalled" });
    // the stall, then one clean-up listing that hits its own call deadline
    expect(ms).toBeLessThan(STALL_MS + CALL_MS + SLACK_MS);
  });
});
