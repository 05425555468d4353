import { describe, expect, it } from "vitest";
import { execRedisQueueDepth, parseQueueDepth } from "../../../src/core/backup/commands.js";
import { binaryDataMode, consistencyLines, consistencyOf, type ConsistencyFacts } from "../../../src/core/backup/consistency.js";

// Issue 22 item 16: a backup's parts are taken at different instants while n8n serves, and a
// queue-mode tenant's Redis is not in it. The manifest says how each part was taken and what
// a restore may lack; `backup show` and `backup verify` print these lines.

const t = (s: number) => new Date(Date.UTC(2026, 2, 1, 2, 0, s));
const facts = (o: Partial<ConsistencyFacts> = {}): ConsistencyFacts => ({
  queueMode: false,
  n8nRunning: true,
  dumpStartedAt: t(0),
  dumpFinishedAt: t(10),
  archiveStartedAt: t(11),
  archiveFinishedAt: t(20),
  queue: null,
  ...o,
});

describe("a backup's consistency record", () => {
  it("regular mode, n8n serving: the dump's snapshot time, the files archived live after it, Redis not included, and what that may miss", () => {
    const c = consistencyOf(facts());
    expect(c.database).toEqual({ part: "postgres.dump", method: "pg_dump", snapshotAt: "2026-03-01T02:00:00.000Z", finishedAt: "2026-03-01T02:00:10.000Z", n8nRunning: true });
    expect(c.n8nData).toEqual({ part: "n8n-data.tar", method: "archived live after the dump", startedAt: "2026-03-01T02:00:11.000Z", finishedAt: "2026-03-01T02:00:20.000Z", binaryData: "filesystem" });
    expect(c.redis).toEqual({ included: false, executionsMode: "regular", queueAtSnapshot: null });
    expect(c.mayMiss).toEqual([
      "executions running at the snapshot are restored unfinished",
      expect.stringMatching(/^binary data of executions n8n pruned while the files were archived .*rows in the dump, files gone$/),
      expect.stringMatching(/^files written after the snapshot .* unused after a restore$/),
    ]);
    expect(consistencyLines(c)).toEqual([
      "postgres.dump: pg_dump, one snapshot at 2026-03-01T02:00:00.000Z (finished 2026-03-01T02:00:10.000Z), n8n serving",
      "n8n-data.tar: archived live after the dump, 2026-03-01T02:00:11.000Z to 2026-03-01T02:00:20.000Z; binary data in the filesystem",
      "redis: not included (regular mode: n8n keeps nothing in Redis)",
      ...c.mayMiss.map((m) => `may miss: ${m}`),
    ]);
  });

  it("queue mode: binary data is in the dump; the jobs queued at the snapshot are counted and named as what a restore leaves unrun", () => {
    const c = consistencyOf(facts({ queueMode: true, queue: { waiting: 3, active: 1, delayed: 0 } }));
    expect(c.n8nData.binaryData).toBe("database");
    expect(c.redis).toEqual({ included: false, executionsMode: "queue", queueAtSnapshot: { waiting: 3, active: 1, delayed: 0 } });
    expect(c.mayMiss).toContainEqual(expect.stringMatching(/^3 waiting, 1 active and 0 delayed job\(s\) queued in Redis at the snapshot: their executions are in the dump but stay unrun after a restore/));
    expect(c.mayMiss.some((m) => m.startsWith("binary data of executions"))).toBe(false);
    expect(consistencyLines(c)).toContain("redis: not included (queue mode: only the job queue, 3 waiting / 1 active / 0 delayed at the snapshot)");
  });

  it("queue mode with Redis not answering: the depth is unknown, and said so", () => {
    const c = consistencyOf(facts({ queueMode: true, queue: null }));
    expect(c.mayMiss).toContainEqual(expect.stringMatching(/not counted: Redis did not answer/));
    expect(consistencyLines(c)).toContain("redis: not included (queue mode: only the job queue, not counted)");
  });

  it("n8n stopped (a suspended tenant, a migration's final backup) and an empty queue: the files match the dump, nothing is missed", () => {
    const c = consistencyOf(facts({ n8nRunning: false, queueMode: true, queue: { waiting: 0, active: 0, delayed: 0 } }));
    expect(c.n8nData.method).toBe("archived with n8n stopped");
    expect(c.mayMiss).toEqual([]);
    expect(consistencyLines(c).at(-1)).toBe("may miss: nothing (n8n was stopped while it was taken)");
  });

  it("a backup of an older btw has no record: the lines say what it was then", () => {
    expect(consistencyLines(undefined)).toEqual(["not recorded (a backup of an older btw): database by pg_dump, then n8n's files archived while n8n ran; Redis not included"]);
  });

  it("binary data lives where the tenant's .env puts it", () => {
    expect([binaryDataMode(false), binaryDataMode(true)]).toEqual(["filesystem", "database"]);
  });

  it("counts n8n's Bull queue with one redis-cli EVAL (password from REDISCLI_AUTH, not argv), and parses its three integers", () => {
    expect(execRedisQueueDepth()).toEqual([
      "redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", "6379", "EVAL",
      "return {redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]), redis.call('ZCARD', KEYS[4])}",
      "4", "bull:jobs:wait", "bull:jobs:paused", "bull:jobs:active", "bull:jobs:delayed",
    ]);
    expect(parseQueueDepth("3\n1\n0\n")).toEqual({ waiting: 3, active: 1, delayed: 0 });
    expect(parseQueueDepth("NOAUTH Authentication required.\n")).toBeNull();
    expect(parseQueueDepth("")).toBeNull();
  });
});
