// A fleet rollout of the workflow templates, decided here without I/O: which tenants take
// part, the waves, when to halt, and the report. The applier (src/ops/workflows/rollout.ts)
// passes in the per-tenant deploy; this module only orders, times and judges.
//
// Rules:
//   - only active tenants are deployed to; the others are reported as skipped with the reason;
//   - waves of `waveSize` tenants in a stable order (by slug); the tenants of a wave run in
//     parallel, and the next wave starts only when every tenant of this one came out healthy
//     (deployed or unchanged — the deploy includes the check that its workflows are published
//     and match what was recorded);
//   - a failed tenant lets the rest of its wave finish (they are already running) and halts
//     the rollout: later waves are not started.

export type TenantOutcome = "deployed" | "unchanged" | "failed" | "not-started" | "skipped";

export interface RolloutTenant {
  slug: string;
  status: string;
  server: string | null;
}

export interface Skipped<T> {
  tenant: T;
  reason: string;
}

/** Who takes part: active tenants, by slug; everyone else is skipped with a reason. */
export function selectRolloutTargets<T extends RolloutTenant>(tenants: readonly T[]): { targets: T[]; skipped: Skipped<T>[] } {
  const bySlug = [...tenants].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  const targets: T[] = [];
  const skipped: Skipped<T>[] = [];
  for (const t of bySlug) {
    if (t.status === "active") targets.push(t);
    else skipped.push({ tenant: t, reason: skipReason(t) });
  }
  return { targets, skipped };
}

function skipReason(t: RolloutTenant): string {
  switch (t.status) {
    case "suspended":
      return `suspended: its n8n is stopped (\`btw tenant resume ${t.slug}\`, then deploy)`;
    case "provisioning":
    case "failed":
      return `${t.status}: provisioning is not finished (\`btw tenant create ${t.slug}\` deploys the workflows when it completes)`;
    default:
      return `${t.status}`;
  }
}

/** Consecutive waves of at most `waveSize` (≥ 1). */
export function planWaves<T>(targets: readonly T[], waveSize: number): T[][] {
  if (!Number.isInteger(waveSize) || waveSize < 1) throw new RangeError(`wave size must be a positive integer, got ${waveSize}`);
  const waves: T[][] = [];
  for (let i = 0; i < targets.length; i += waveSize) waves.push(targets.slice(i, i + waveSize));
  return waves;
}

/** What one tenant's deploy (with its health check) reports. */
export interface TenantDeployResult {
  outcome: "deployed" | "unchanged" | "failed";
  /** one line: what was done, e.g. "wf2 update 1→2, wf1 noop, wf3 noop" */
  summary: string;
  /** one line, never a secret */
  error?: string;
  /** the error's code (e.g. n8n-not-running, workflow-drift, busy) */
  code?: string;
}

export interface TenantRolloutEntry {
  tenant: string;
  server: string | null;
  /** 1-based; null when skipped */
  wave: number | null;
  outcome: TenantOutcome;
  /** wall time of this tenant's deploy; null when it did not run */
  seconds: number | null;
  summary: string | null;
  error: string | null;
  code: string | null;
}

export interface RolloutRun {
  entries: TenantRolloutEntry[];
  waves: number;
  /** waves that ran (all of them unless halted) */
  wavesRun: number;
  /** set when a wave came out unhealthy */
  halted: { wave: number; failed: string[] } | null;
}

export interface RunWavesHooks<T> {
  onWaveStart?: (wave: number, of: number, tenants: readonly T[]) => void;
  onTenantDone?: (entry: TenantRolloutEntry) => void;
  /** clock in ms (tests) */
  now?: () => number;
}

const round1 = (ms: number): number => Math.round(ms / 100) / 10;

function describe(e: unknown): { error: string; code: string | null } {
  const message = e instanceof Error ? e.message : String(e);
  const code = e && typeof e === "object" && typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : null;
  return { error: message.split("\n")[0]!, code };
}

/**
 * Runs the waves in order, each wave's tenants in parallel through `deploy`, and halts after
 * the first wave with a failed tenant. A deploy that throws counts as failed (its message is
 * the error). Entries come back in wave order, then slug order within the wave, then the
 * tenants never started.
 */
export async function runWaves<T extends RolloutTenant>(
  waves: readonly (readonly T[])[],
  deploy: (tenant: T, wave: number) => Promise<TenantDeployResult>,
  hooks: RunWavesHooks<T> = {},
): Promise<RolloutRun> {
  const now = hooks.now ?? Date.now;
  const entries: TenantRolloutEntry[] = [];
  let halted: RolloutRun["halted"] = null;
  let wavesRun = 0;
  for (let w = 0; w < waves.length; w++) {
    const wave = waves[w]!;
    if (halted) {
      for (const t of wave) {
        entries.push({ tenant: t.slug, server: t.server, wave: w + 1, outcome: "not-started", seconds: null, summary: null, error: null, code: null });
      }
      continue;
    }
    hooks.onWaveStart?.(w + 1, waves.length, wave);
    const done = await Promise.all(
      wave.map(async (t): Promise<TenantRolloutEntry> => {
        const t0 = now();
        let r: TenantDeployResult;
        try {
          r = await deploy(t, w + 1);
        } catch (e) {
          r = { outcome: "failed", summary: "", ...describe(e) } as TenantDeployResult;
        }
        const entry: TenantRolloutEntry = {
          tenant: t.slug,
          server: t.server,
          wave: w + 1,
          outcome: r.outcome,
          seconds: round1(now() - t0),
          summary: r.summary || null,
          error: r.outcome === "failed" ? (r.error ?? "failed") : null,
          code: r.outcome === "failed" ? (r.code ?? null) : null,
        };
        hooks.onTenantDone?.(entry);
        return entry;
      }),
    );
    entries.push(...done);
    wavesRun++;
    const failed = done.filter((e) => e.outcome === "failed").map((e) => e.tenant);
    if (failed.length) halted = { wave: w + 1, failed };
  }
  return { entries, waves: waves.length, wavesRun, halted };
}

/** Versions of one tenant's workflows, manifest key → version (absent: not deployed). */
export type VersionMap = Record<string, string>;

export interface RolloutReportTenant extends TenantRolloutEntry {
  versions: VersionMap;
  /** every workflow at the manifest's version */
  current: boolean;
}

export interface RolloutReport {
  /** the manifest's versions: what the rollout brings every tenant to */
  target: VersionMap;
  waveSize: number;
  waves: number;
  wavesRun: number;
  halted: RolloutRun["halted"];
  counts: Record<TenantOutcome, number>;
  tenants: RolloutReportTenant[];
  /** which tenants have which versions, one group per distinct set */
  versionGroups: { versions: VersionMap; current: boolean; tenants: string[] }[];
}

export function versionLabel(v: VersionMap): string {
  const keys = Object.keys(v).sort();
  return keys.length ? keys.map((k) => `${k}@${v[k]}`).join(" ") : "nothing deployed";
}

/**
 * The report: every selected tenant (run, not started or skipped) with the versions the state
 * says it has now, and the tenants grouped by version set.
 */
export function rolloutReport(
  run: RolloutRun,
  skipped: readonly Skipped<RolloutTenant>[],
  versions: ReadonlyMap<string, VersionMap>,
  target: VersionMap,
  waveSize: number,
): RolloutReport {
  const isCurrent = (v: VersionMap) => Object.entries(target).every(([k, ver]) => v[k] === ver);
  const tenants: RolloutReportTenant[] = [
    ...run.entries,
    ...skipped.map((s): TenantRolloutEntry => ({ tenant: s.tenant.slug, server: s.tenant.server, wave: null, outcome: "skipped", seconds: null, summary: null, error: s.reason, code: "skipped" })),
  ].map((e) => {
    const v = versions.get(e.tenant) ?? {};
    return { ...e, versions: v, current: isCurrent(v) };
  });
  const counts: Record<TenantOutcome, number> = { deployed: 0, unchanged: 0, failed: 0, "not-started": 0, skipped: 0 };
  for (const t of tenants) counts[t.outcome]++;
  const groups = new Map<string, { versions: VersionMap; current: boolean; tenants: string[] }>();
  for (const t of tenants) {
    const label = versionLabel(t.versions);
    const g = groups.get(label) ?? { versions: t.versions, current: t.current, tenants: [] };
    g.tenants.push(t.tenant);
    groups.set(label, g);
  }
  const versionGroups = [...groups.values()].sort((a, b) => Number(b.current) - Number(a.current) || b.tenants.length - a.tenants.length);
  return { target, waveSize, waves: run.waves, wavesRun: run.wavesRun, halted: run.halted, counts, tenants, versionGroups };
}

/** Runs `fn` over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
