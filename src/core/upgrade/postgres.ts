// Pure parts of a tenant's Postgres major upgrade (dump from the old server, restore into a
// new data volume): the target, the phase order, and the remote commands as argv arrays.
// Values are separate argv words or "$1"/"$2" of constant scripts (quoted by core/shell.ts);
// no password is ever needed: the dump and the restore use the container's local socket,
// which the image trusts, and the new server's role gets its password from the .env.

import { UsageError } from "../../errors.js";
import { TENANT_DB_NAME, TENANT_DB_USER, TENANTS_ROOT, pgdataVolumeFor, tenantLayout } from "../tenant/layout.js";
import { repositoryOf, versionOf } from "./plan.js";

/**
 * `--to 17` keeps the repository of the default image (images.postgres) and takes the tag
 * `17`; anything with a `/` or `:` is a full image, whose tag must start with its major.
 */
export function resolvePostgresTarget(to: string, defaultImage: string): string {
  const v = to.trim();
  if (v === "") throw new UsageError("--to needs a Postgres major (e.g. 17) or an image");
  if (/\s/.test(v) || v.endsWith(":latest")) throw new UsageError(`--to ${JSON.stringify(to)} is not a pinned Postgres major or image`);
  const image = v.includes("/") || v.includes(":") ? v : /^\d{1,3}$/.test(v) ? `${repositoryOf(defaultImage)}:${v}` : null;
  if (image === null) throw new UsageError(`--to ${JSON.stringify(to)} is not a Postgres major (e.g. 17) or an image`);
  majorOf(image);
  return image;
}

/** The major of a Postgres image from its tag: "postgres:17.2-bookworm" → "17". */
export function majorOf(image: string): string {
  const m = /^(\d{1,3})(\.|-|$)/.exec(versionOf(image));
  if (!m) throw new UsageError(`cannot tell the Postgres major of ${image}: its tag must start with it (e.g. postgres:17 or postgres:17.2)`, { code: "postgres-major-unknown" });
  return m[1]!;
}

export type PostgresPhase = "prepared" | "backed-up" | "dumped" | "restored" | "rolling-back";

/**
 * What a (resumed) upgrade still does from `phase`; the journal records the phase reached,
 * each step is idempotent (the restore always starts from a freshly made volume).
 */
export function postgresSteps(phase: PostgresPhase): string[] {
  const all: Array<[PostgresPhase, string[]]> = [
    ["prepared", ["backup", "pull"]],
    ["backed-up", ["maintenance", "stop-n8n", "dump"]],
    ["dumped", ["stop-postgres", "new-volume", "start-postgres", "restore", "compare"]],
    ["restored", ["start-n8n", "readiness", "record"]],
  ];
  if (phase === "rolling-back") return ["rollback"];
  const i = all.findIndex(([p]) => p === phase);
  return all.slice(i).flatMap(([, s]) => s);
}

export interface PostgresUpgradePlan {
  from: string;
  to: string;
  fromMajor: string;
  toMajor: string;
  fromVolume: string;
  toVolume: string;
  dumpFile: string;
}

/** Refuses a downgrade or a same-major change (no dump/restore needed: not this command). */
export function planPostgresUpgrade(slug: string, current: { postgres: string; pgdataVolume: string }, target: string): PostgresUpgradePlan {
  const fromMajor = majorOf(current.postgres);
  const toMajor = majorOf(target);
  if (Number(toMajor) < Number(fromMajor)) throw new UsageError(`${slug} runs Postgres ${fromMajor}: a dump cannot go back to ${toMajor}`, { code: "postgres-downgrade" });
  if (toMajor === fromMajor) throw new UsageError(`${slug} already runs Postgres ${fromMajor} (${current.postgres}): a major upgrade needs a newer major`, { code: "postgres-same-major" });
  const toVolume = pgdataVolumeFor(slug, toMajor);
  return { from: current.postgres, to: target, fromMajor, toMajor, fromVolume: current.pgdataVolume, toVolume, dumpFile: dumpFileOf(slug, fromMajor) };
}

/** Where the dump is written on the server, beside the tenant's files (kept until --cleanup). */
export function dumpFileOf(slug: string, fromMajor: string): string {
  return `${tenantLayout(slug).dir}/pg-upgrade/n8n-pg${fromMajor}.dump`;
}

/** Only files under the tenants' root named like a dump: the scripts below write and read them. */
function requireDumpPath(path: string): string {
  if (!path.startsWith(`${TENANTS_ROOT}/`) || !/\/pg-upgrade\/n8n-pg\d{1,3}\.dump$/.test(path) || path.includes("..")) {
    throw new UsageError(`invalid dump path ${JSON.stringify(path)}`, { code: "invalid-argument" });
  }
  return path;
}

function requireContainer(name: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new UsageError(`invalid container name '${name}'`, { code: "invalid-container" });
  return name;
}

/**
 * $1 container, $2 dump file. pg_dump's custom format (-Fc) of the one database (the public
 * and `content` schemas, all of n8n's data); the role itself is re-created by the new image
 * from the .env, so no pg_dumpall is needed. Written to a partial file of this run's own
 * (`.partial.<pid>`), renamed when whole. A killed btw does not end this script on the server
 * (it writes nothing to ssh, so no SIGPIPE): the re-run's dump must not share a file with
 * it. The re-run removes the earlier partial, so that dump's final rename fails; had it
 * finished first, its whole dump of the same stopped database is replaced by this one.
 */
export const PG_DUMP_SCRIPT =
  'set -e; umask 077; mkdir -p "$(dirname "$2")"; rm -f "$2".partial "$2".partial.*; docker exec "$1" pg_dump -U "$3" -d "$4" -Fc --no-password > "$2.partial.$$"; mv "$2.partial.$$" "$2"; wc -c < "$2"';

export function pgDumpToFile(slug: string, dumpFile: string): string[] {
  return ["sh", "-c", PG_DUMP_SCRIPT, "sh", requireContainer(tenantLayout(slug).containers.postgres), requireDumpPath(dumpFile), TENANT_DB_USER, TENANT_DB_NAME];
}

/**
 * $1 container, $2 dump file. One transaction, stopping at the first error: the database
 * is either whole or as the image made it (and the volume is made afresh before each try).
 */
export const PG_RESTORE_SCRIPT = 'set -e; docker exec -i "$1" pg_restore -U "$3" -d "$4" --no-password --exit-on-error --single-transaction --no-owner < "$2"';

export function pgRestoreFromFile(slug: string, dumpFile: string): string[] {
  return ["sh", "-c", PG_RESTORE_SCRIPT, "sh", requireContainer(tenantLayout(slug).containers.postgres), requireDumpPath(dumpFile), TENANT_DB_USER, TENANT_DB_NAME];
}

/** What must be the same before and after: rows per table of what a customer owns in n8n. */
export const COUNTED_TABLES = ["workflow_entity", "credentials_entity", "execution_entity", "webhook_entity", "user", "project"] as const;

/** One `table|rows` line per counted table that exists (a version without one skips it). */
export const COUNT_SQL = `select t, (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I', t), false, true, '')))[1]::text
  from unnest(array[${COUNTED_TABLES.map((t) => `'${t}'`).join(", ")}]) as t where to_regclass(format('%I', t)) is not null order by t`;

export function pgCountRows(slug: string): string[] {
  return ["docker", "exec", requireContainer(tenantLayout(slug).containers.postgres), "psql", "-U", TENANT_DB_USER, "-d", TENANT_DB_NAME, "-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", COUNT_SQL];
}

export function parseCounts(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [t, n] = line.split("|");
    if (t && n !== undefined && /^\d+$/.test(n)) out[t] = Number(n);
  }
  return out;
}

/** Tables whose row count differs after the restore, e.g. ["workflow_entity 3 → 2"]. */
export function countDifferences(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(before).sort().filter((t) => after[t] !== before[t]).map((t) => `${t} ${before[t]} → ${after[t] ?? "missing"}`);
}

/** `docker volume rm` of one of the tenant's Postgres volumes (never the layout's others). */
export function pgVolumeRm(volume: string): string[] {
  if (!/^btw-[a-z0-9-]+-pgdata(-pg\d{1,3})?$/.test(volume)) throw new UsageError(`invalid volume '${volume}'`, { code: "invalid-volume" });
  return ["docker", "volume", "rm", volume];
}

/** Containers (running or not) that mount a volume, one name a line: a volume in use is never removed. */
export function containersUsingVolume(volume: string): string[] {
  return ["docker", "ps", "-a", "--filter", `volume=${volume}`, "--format", "{{.Names}}"];
}
