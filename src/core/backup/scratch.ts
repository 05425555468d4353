// Scratch stacks (backup verify): a restored copy of a customer's n8n, quarantined. Pure
// parts: the marks they carry, how they are listed, when one is stale, and the SQL that
// keeps the restored workflows from running.

/** Names of scratch stacks: `vfy-<8 hex>`. Nothing else is ever swept. */
export const SCRATCH_SLUG = /^vfy-[0-9a-f]{8}$/;

/**
 * A scratch stack older than this is stale whoever owns it: the longest a verify may run is
 * bounded by its pg_restore (6 h) plus start and checks.
 */
export const SCRATCH_MAX_AGE_MS = 7 * 3600_000;

/** `<host>:<pid>` of this process, as the btw.owner label holds it. */
export function scratchOwner(host: string, pid: number): string {
  const h = host.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63) || "host";
  return `${h}:${pid}`;
}

/** Containers marked btw.scratch=1, running or not: `tenant|state|created-at|owner`. */
export function scratchContainers(): string[] {
  return [
    "docker", "ps", "-a", "--filter", "label=btw.scratch=1",
    "--format", '{{.Label "btw.tenant"}}|{{.Label "btw.state"}}|{{.Label "btw.created-at"}}|{{.Label "btw.owner"}}',
  ];
}

export interface ScratchStack {
  slug: string;
  state: string;
  createdAt: string;
  owner: string;
}

/** One entry per stack (its containers agree; the first seen wins), scratch names only. */
export function parseScratchContainers(stdout: string): ScratchStack[] {
  const bySlug = new Map<string, ScratchStack>();
  for (const line of stdout.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [slug = "", state = "", createdAt = "", owner = ""] = line.split("|");
    if (!SCRATCH_SLUG.test(slug) || bySlug.has(slug)) continue;
    bySlug.set(slug, { slug, state, createdAt, owner });
  }
  return [...bySlug.values()].sort((a, b) => a.slug.localeCompare(b.slug));
}

export interface StaleScratch extends ScratchStack {
  reason: string;
}

export interface StaleContext {
  now: number;
  /** this machine's name as scratchOwner writes it */
  host: string;
  /** whether a process of this machine is alive */
  isAlive: (pid: number) => boolean;
  maxAgeMs?: number;
}

/**
 * Stale: its owning process (on this machine) is gone, or it is older than the longest a
 * verify runs, or it carries no readable creation time. A stack of a live process, or of
 * another machine's process and younger than the limit, is left alone.
 */
export function staleScratch(stacks: readonly ScratchStack[], c: StaleContext): StaleScratch[] {
  const maxAge = c.maxAgeMs ?? SCRATCH_MAX_AGE_MS;
  const out: StaleScratch[] = [];
  for (const s of stacks) {
    const created = Date.parse(s.createdAt);
    const m = /^(.+):(\d+)$/.exec(s.owner);
    if (Number.isNaN(created)) out.push({ ...s, reason: "no creation time" });
    else if (c.now - created > maxAge) out.push({ ...s, reason: `${Math.round((c.now - created) / 60_000)} min old` });
    else if (m && m[1] === c.host && !c.isAlive(Number(m[2]))) out.push({ ...s, reason: `its verify (pid ${m[2]}) is gone` });
  }
  return out;
}

/**
 * Run in the restored database before n8n starts: nothing in a scratch copy may fire.
 * n8n 2.x activates at start-up every workflow whose "activeVersionId" is set
 * (WorkflowRepository.getAllActiveIds), 1.x those with active = true; waiting executions
 * resume from "waitTill" (WaitTracker); production webhooks are served from webhook_entity.
 * Columns are checked first, so the same statement fits 1.x and 2.x schemas.
 */
export const QUARANTINE_SQL = `do $$
begin
  update workflow_entity set active = false where active;
  if exists (select 1 from information_schema.columns where table_name = 'workflow_entity' and column_name = 'activeVersionId') then
    execute 'update workflow_entity set "activeVersionId" = null where "activeVersionId" is not null';
  end if;
  if exists (select 1 from information_schema.columns where table_name = 'execution_entity' and column_name = 'waitTill') then
    execute 'update execution_entity set "waitTill" = null where "waitTill" is not null';
  end if;
  if to_regclass('webhook_entity') is not null then
    execute 'delete from webhook_entity';
  end if;
end $$`;
