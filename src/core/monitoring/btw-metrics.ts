// btw's own facts in Prometheus' text exposition format, for node exporter's textfile
// collector on the monitoring server (a batch job's "last success" is a gauge of a
// timestamp: the alert is on its age, so it fires when runs STOP, not only when one fails).
// Pure: facts in, text out.

import { BTW_METRICS as M } from "./jobs.js";

export interface BtwTenantFacts {
  tenant: string;
  server: string | null;
  n8nImage: string | null;
  lastBackupAt: Date | null;
  lastVerifiedAt: Date | null;
  lastVerifyOk: boolean | null;
  /** its volumes' bytes, last measured by `usage collect` (null: never) */
  volumeBytes?: number | null;
}

export interface BtwJobFacts {
  job: string;
  startedAt: Date;
  finishedAt: Date | null;
  exitCode: number | null;
}

export interface BtwFacts {
  tenants: readonly BtwTenantFacts[];
  jobs: readonly BtwJobFacts[];
}

/** A label value escaped as the exposition format wants (\\, \", \n). */
export function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

const seconds = (d: Date | null): number => (d ? Math.floor(d.getTime() / 1000) : 0);

/** The image tag or digest: docker.n8n.io/n8nio/n8n:2.8.4 → 2.8.4; unknown → "unknown". */
export function imageVersion(image: string | null): string {
  if (!image) return "unknown";
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1);
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/") ? image.slice(colon + 1) : "unknown";
}

export function renderBtwMetrics(facts: BtwFacts, now: Date): string {
  const out: string[] = [];
  const family = (name: string, help: string, rows: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [l, v] of rows) out.push(`${name}${labels(l)} ${v}`);
  };
  const t = [...facts.tenants].sort((a, b) => a.tenant.localeCompare(b.tenant));
  // No `server` label: the textfile arrives through the monitoring server's node exporter,
  // whose target label `server` would rename it to exported_server.
  const tl = (f: BtwTenantFacts) => ({ tenant: f.tenant });
  // A tenant without any backup reads 0 (1970): the dead man's switch then fires for it too.
  family(M.backupLastSuccess, "Unix time of the tenant's newest completed backup (0: none).", t.map((f) => [tl(f), seconds(f.lastBackupAt)]));
  family(M.backupLastVerified, "Unix time of the newest verify that passed for the tenant's backups (0: none).", t.map((f) => [tl(f), seconds(f.lastVerifiedAt)]));
  family(
    M.verifyLastOk,
    "1 if the newest verify of the tenant's backups passed, 0 if it failed (absent: never verified).",
    t.filter((f) => f.lastVerifyOk !== null).map((f) => [tl(f), f.lastVerifyOk ? 1 : 0]),
  );
  family(M.n8nVersion, "The n8n version the tenant runs (from the state), always 1.", t.map((f) => [{ ...tl(f), version: imageVersion(f.n8nImage) }, 1]));
  family(
    M.tenantDisk,
    "Bytes of the tenant's volumes (database, n8n's files, Redis) when `btw usage collect` last measured them (absent: never).",
    t.filter((f) => f.volumeBytes != null).map((f) => [tl(f), f.volumeBytes!]),
  );
  const jobs = [...facts.jobs].sort((a, b) => a.job.localeCompare(b.job));
  family(M.jobLastRun, "Unix time the newest run of the scheduled job started.", jobs.map((j) => [{ job_name: j.job }, seconds(j.startedAt)]));
  // A run still going (or killed before it could record its end) has no exit code yet.
  family(
    M.jobLastExitCode,
    "btw's exit code of the newest finished run of the scheduled job (0 ok, 1 failed, 3 partial).",
    jobs.filter((j) => j.exitCode !== null).map((j) => [{ job_name: j.job }, j.exitCode!]),
  );
  family(M.generated, "Unix time btw wrote these metrics.", [[{}, seconds(now)]]);
  return out.join("\n") + "\n";
}
