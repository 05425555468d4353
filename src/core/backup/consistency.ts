import { PART_DATABASE, PART_N8N_DATA } from "./manifest.js";

// How each part of a backup was taken, and what a restore of it may lack — recorded in the
// manifest (issue 22 item 16), because a tenant's backup is not one snapshot: n8n keeps
// serving while it is taken.
//
//   - The database is one pg_dump: a single transaction's snapshot, consistent in itself.
//   - n8n's files (binary data in regular mode, settings, community nodes, event logs) are
//     archived after the dump, while n8n runs. That order is deliberate: a finished execution
//     in the dump wrote its binary data before the snapshot, and n8n deletes those files only
//     when it prunes the execution, so every file the dump refers to is still there when the
//     archive reads it — except executions pruned during the archive (past the retention:
//     n8n would delete them anyway). Archiving first would lose the binary data of every
//     execution that finished between the archive and the dump: the newest, the ones wanted.
//   - Redis is not in the backup. In regular mode n8n keeps nothing there; in queue mode it
//     holds only Bull's job queue, each job naming an execution whose row is in the dump.
//     A queue reloaded from another instant than the dump would run some executions twice
//     (active jobs are retried) and still miss others, so it is not taken; the queue's depth
//     at the snapshot is recorded instead: those executions are the ones a restore leaves
//     unrun.

/** Bull's queue of a queue-mode tenant, counted at the dump's snapshot. */
export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
}

export interface BackupConsistency {
  database: { part: typeof PART_DATABASE; method: "pg_dump"; snapshotAt: string; finishedAt: string; n8nRunning: boolean };
  n8nData: { part: typeof PART_N8N_DATA; method: "archived live after the dump" | "archived with n8n stopped"; startedAt: string; finishedAt: string; binaryData: "filesystem" | "database" };
  redis: { included: false; executionsMode: "regular" | "queue"; queueAtSnapshot: QueueDepth | null };
  /** what a restore of this backup may lack or hold extra, and why, one sentence each */
  mayMiss: string[];
}

export interface ConsistencyFacts {
  queueMode: boolean;
  /** n8n (main) ran at the dump or at the archive */
  n8nRunning: boolean;
  dumpStartedAt: Date;
  dumpFinishedAt: Date;
  archiveStartedAt: Date;
  archiveFinishedAt: Date;
  /** queue mode: the queue at the snapshot (null: could not be counted) */
  queue: QueueDepth | null;
}

/** Where n8n keeps binary data: as the tenant's .env sets it (core/tenant/env.ts). */
export function binaryDataMode(queueMode: boolean): "filesystem" | "database" {
  // in queue mode the worker runs executions and cannot reach the main container's files
  return queueMode ? "database" : "filesystem";
}

export function consistencyOf(f: ConsistencyFacts): BackupConsistency {
  const binaryData = binaryDataMode(f.queueMode);
  const mayMiss: string[] = [];
  if (f.n8nRunning) {
    mayMiss.push("executions running at the snapshot are restored unfinished");
    if (binaryData === "filesystem") {
      mayMiss.push(
        "binary data of executions n8n pruned while the files were archived (past EXECUTIONS_DATA_MAX_AGE, deleted by n8n anyway): rows in the dump, files gone",
        "files written after the snapshot (binary data of later executions, event log lines) are in the archive without rows that use them: unused after a restore",
      );
    } else {
      mayMiss.push("n8n's settings, community nodes and event logs are as they were at the archive, not at the snapshot (binary data is in the database: the dump holds it)");
    }
  }
  if (f.queueMode) {
    const q = f.queue;
    if (!q) mayMiss.push("jobs queued in Redis at the snapshot (not counted: Redis did not answer); their executions stay unrun after a restore");
    else if (q.waiting + q.active + q.delayed > 0) {
      mayMiss.push(`${q.waiting} waiting, ${q.active} active and ${q.delayed} delayed job(s) queued in Redis at the snapshot: their executions are in the dump but stay unrun after a restore (Redis is not backed up: a queue from another instant than the dump would run some twice)`);
    }
  }
  return {
    database: { part: PART_DATABASE, method: "pg_dump", snapshotAt: f.dumpStartedAt.toISOString(), finishedAt: f.dumpFinishedAt.toISOString(), n8nRunning: f.n8nRunning },
    n8nData: {
      part: PART_N8N_DATA,
      method: f.n8nRunning ? "archived live after the dump" : "archived with n8n stopped",
      startedAt: f.archiveStartedAt.toISOString(),
      finishedAt: f.archiveFinishedAt.toISOString(),
      binaryData,
    },
    redis: { included: false, executionsMode: f.queueMode ? "queue" : "regular", queueAtSnapshot: f.queueMode ? f.queue : null },
    mayMiss,
  };
}

/** For `backup show` and `backup verify`: how the parts were taken, then what may be missing. */
export function consistencyLines(c: BackupConsistency | undefined): string[] {
  if (!c) {
    return ["not recorded (a backup of an older btw): database by pg_dump, then n8n's files archived while n8n ran; Redis not included"];
  }
  const q = c.redis.queueAtSnapshot;
  const lines = [
    `${c.database.part}: pg_dump, one snapshot at ${c.database.snapshotAt} (finished ${c.database.finishedAt})${c.database.n8nRunning ? ", n8n serving" : ", n8n stopped"}`,
    `${c.n8nData.part}: ${c.n8nData.method}, ${c.n8nData.startedAt} to ${c.n8nData.finishedAt}; binary data in the ${c.n8nData.binaryData}`,
    c.redis.executionsMode === "regular"
      ? "redis: not included (regular mode: n8n keeps nothing in Redis)"
      : `redis: not included (queue mode: only the job queue${q ? `, ${q.waiting} waiting / ${q.active} active / ${q.delayed} delayed at the snapshot` : ", not counted"})`,
  ];
  return [...lines, ...(c.mayMiss.length ? c.mayMiss.map((m) => `may miss: ${m}`) : ["may miss: nothing (n8n was stopped while it was taken)"])];
}
