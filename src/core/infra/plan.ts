// What a saved Terraform plan does, from `terraform show -json <plan>`: the resources it
// creates, changes, replaces and deletes, and which servers go. Pure.

import { OperationError } from "../../errors.js";

export type ChangeKind = "create" | "update" | "replace" | "delete";

export interface ResourceChange {
  address: string;
  type: string;
  /** the resource's `name` attribute (before for deletes, after otherwise), when it has one */
  name: string | null;
  kind: ChangeKind;
}

export interface PlanSummary {
  changes: ResourceChange[];
  counts: Record<ChangeKind, number>;
  /** hcloud_server names that are deleted or replaced */
  serversGoing: string[];
  /** hcloud_server names that are created (replacements are in serversGoing) */
  serversComing: Array<{ name: string; serverType: string | null }>;
}

interface RawChange {
  address?: string;
  type?: string;
  mode?: string;
  change?: { actions?: string[]; before?: Record<string, unknown> | null; after?: Record<string, unknown> | null };
}

function kindOf(actions: readonly string[]): ChangeKind | null {
  const a = [...actions].sort().join(",");
  if (a === "create") return "create";
  if (a === "update") return "update";
  if (a === "delete") return "delete";
  if (a === "create,delete") return "replace";
  return null; // no-op, read
}

export function summarizePlan(showJson: string): PlanSummary {
  let doc: { resource_changes?: RawChange[] };
  try {
    doc = JSON.parse(showJson) as typeof doc;
  } catch {
    throw new OperationError("cannot read the saved plan: `show -json` did not print JSON", { code: "plan-unreadable" });
  }
  const changes: ResourceChange[] = [];
  const serversComing: PlanSummary["serversComing"] = [];
  for (const rc of doc.resource_changes ?? []) {
    if (rc.mode === "data") continue;
    const kind = kindOf(rc.change?.actions ?? []);
    if (!kind) continue;
    const after = rc.change?.after ?? null;
    const before = rc.change?.before ?? null;
    const named = kind === "delete" ? before : (after ?? before);
    const name = typeof named?.name === "string" ? named.name : null;
    changes.push({ address: rc.address ?? "?", type: rc.type ?? "?", name, kind });
    if (rc.type === "hcloud_server" && kind === "create" && name) {
      serversComing.push({ name, serverType: typeof after?.server_type === "string" ? after.server_type : null });
    }
  }
  const counts = { create: 0, update: 0, replace: 0, delete: 0 } satisfies Record<ChangeKind, number>;
  for (const c of changes) counts[c.kind]++;
  const serversGoing = changes
    .filter((c) => c.type === "hcloud_server" && (c.kind === "delete" || c.kind === "replace") && c.name)
    .map((c) => c.name!);
  return { changes, counts, serversGoing, serversComing };
}

/** `+ hcloud_server.server_btw-1 (btw-1)` lines, deletes last, for the human output. */
export function describeChanges(summary: PlanSummary): string[] {
  const sign: Record<ChangeKind, string> = { create: "+", update: "~", replace: "-/+", delete: "-" };
  const order: ChangeKind[] = ["create", "update", "replace", "delete"];
  return order.flatMap((k) =>
    summary.changes.filter((c) => c.kind === k).map((c) => `${sign[k].padStart(3)} ${c.address}${c.name ? ` (${c.name})` : ""}`),
  );
}

/** Monthly list price of the servers a plan adds (serverTypes prices are config). */
export function addedMonthlyCost(summary: PlanSummary, prices: Readonly<Record<string, { priceEurMonth: number }>>): { eur: number; unknownTypes: string[] } {
  let eur = 0;
  const unknown = new Set<string>();
  for (const s of summary.serversComing) {
    const price = s.serverType ? prices[s.serverType]?.priceEurMonth : undefined;
    if (price === undefined) unknown.add(s.serverType ?? "?");
    else eur += price;
  }
  return { eur: Math.round(eur * 100) / 100, unknownTypes: [...unknown] };
}
