// Does this btw state own what a server holds under a tenant's name? Pure decision.
//
// Labels name the owner on containers and in the directory's .env (BTW_STATE). Volumes and
// networks carry only btw.tenant (Compose re-creates volumes whose labels change), so they
// count as ours only when the state records the tenant on that server and nothing there
// carries another state's label.

export interface StackFound {
  containers: Array<{ name: string; state: string }>;
  volumes: string[];
  networks: string[];
  dir: { path: string; exists: boolean; state: string };
}

export interface OwnershipInput {
  slug: string;
  server: string;
  /** this state's uuid */
  stateId: string | null;
  /** the state records this tenant on this server (a resumed create, a restore in place…) */
  recorded: boolean;
  found: StackFound;
}

export type Ownership = { ok: true } | { ok: false; reason: "foreign-state" | "unrecorded"; message: string; hint: string };

export function isEmptyStack(f: StackFound): boolean {
  return f.containers.length === 0 && f.volumes.length === 0 && f.networks.length === 0 && !f.dir.exists;
}

/** One clause per kind, e.g. "containers btw-a-n8n, btw-a-postgres; volume btw-a-pgdata". */
export function describeStack(f: StackFound): string {
  const part = (one: string, many: string, xs: readonly string[]) => (xs.length === 0 ? [] : [`${xs.length === 1 ? one : many} ${xs.join(", ")}`]);
  return [
    ...part("container", "containers", f.containers.map((c) => c.name)),
    ...part("volume", "volumes", f.volumes),
    ...part("network", "networks", f.networks),
    ...(f.dir.exists ? [`directory ${f.dir.path}`] : []),
  ].join("; ");
}

export function decideOwnership(i: OwnershipInput): Ownership {
  const f = i.found;
  if (isEmptyStack(f)) return { ok: true };
  const foreign = new Set([...f.containers.map((c) => c.state), f.dir.state].filter((s) => s !== "" && s !== i.stateId));
  const cleanup = `docker compose -p btw-${i.slug} down --volumes; rm -rf ${f.dir.path}`;
  if (foreign.size > 0) {
    return {
      ok: false,
      reason: "foreign-state",
      message: `server ${i.server} already has a stack '${i.slug}' owned by another btw state (${[...foreign].sort().join(", ")}): ${describeStack(f)}`,
      hint: `use another tenant name, or remove it with the btw state that owns it (\`btw tenant delete ${i.slug} --purge\` there); btw never adopts or overwrites it`,
    };
  }
  if (!i.recorded) {
    return {
      ok: false,
      reason: "unrecorded",
      message: `server ${i.server} already has a stack '${i.slug}' that this btw state does not record: ${describeStack(f)}`,
      hint: `use another tenant name, or — once sure its data is not needed (another btw home? a leftover?) — remove it on ${i.server}: ${cleanup}`,
    };
  }
  return { ok: true };
}
