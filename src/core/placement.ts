// Which server gets a new tenant. Capacity is in plan-weight units (a starter weighs 1, a
// business 4; a server of capacity 12 holds 12 starters). Pure: the caller gives each
// server's capacity and the weights already placed on it, and maps a refusal to an error.

import type { Plan } from "../config/schema.js";
import { BtwError, ConflictError, NotFoundError } from "../errors.js";
import { describeShort, fitsResources, type CapacityPolicy, type Fit, type ServerCapacity } from "./capacity.js";
import { isolationInPlace } from "./server/isolation-check.js";

export interface PlacementServer {
  name: string;
  capacity: number;
  /** sum of the weights of the tenants already on it */
  used: number;
  /** only `ready` servers take tenants (not draining, not bootstrapping, …) */
  status: string;
  /**
   * its tenant isolation rules are installed, as its last check saw them (isolationInPlace):
   * a server without them would let a tenant reach the host, the private network and the
   * other servers, so it takes none, ready or not
   */
  isolated: boolean;
  /** its room by resources (issue 26), when the caller counted it: placement checks both units and resources */
  resources?: ServerCapacity;
}

/** A server row as placement sees it: `active` is ready; isolated as its last check recorded. */
export function placementServer(s: { name: string; capacity: number; usedCapacity: number; status: string; facts: Readonly<Record<string, unknown>> | null }): PlacementServer {
  return { name: s.name, capacity: s.capacity, used: s.usedCapacity, status: s.status === "active" ? "ready" : s.status, isolated: isolationInPlace(s.facts) };
}

export interface PlacementInput {
  servers: readonly PlacementServer[];
  /** the new tenant's plan weight */
  weight: number;
  /** `--server`: place there or refuse, never elsewhere */
  requested?: string;
  /** the new tenant's plan, for the servers whose resources are given */
  plan?: { name: string; plan: Plan; policy: CapacityPolicy };
}

export interface ServerRoom {
  name: string;
  status: string;
  free: number;
  /** the resource it is short of for this plan, when units had room */
  short?: string;
}

export type Placement =
  | { ok: true; server: string; freeBefore: number; freeAfter: number }
  | { ok: false; reason: "unknown-server"; requested: string; known: string[] }
  | { ok: false; reason: "server-not-ready"; server: string; status: string }
  | { ok: false; reason: "server-not-isolated"; server: string }
  | { ok: false; reason: "server-full"; server: string; free: number; weight: number }
  | { ok: false; reason: "server-short"; server: string; plan: string; short: Exclude<Fit, { ok: true }>; policy: CapacityPolicy }
  | { ok: false; reason: "no-capacity"; weight: number; servers: ServerRoom[] };

export type PlacementRefusal = Exclude<Placement, { ok: true }>;

// Weights are decimals (0.5 + 0.25 …): compare with a tolerance so 12 − 11.7 − 0.3 fits.
const EPSILON = 1e-9;

export function freeCapacity(server: PlacementServer): number {
  return server.capacity - server.used;
}

function fits(server: PlacementServer, weight: number): boolean {
  return freeCapacity(server) + EPSILON >= weight;
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The server with most free capacity (ties: first by name) among ready ones, or why none. */
export function choosePlacement(input: PlacementInput): Placement {
  const { servers, weight } = input;
  const resourceFit = (s: PlacementServer): Fit => (s.resources && input.plan ? fitsResources(s.resources, input.plan.plan, input.plan.policy) : { ok: true });
  if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`plan weight must be a positive number (got ${weight})`);
  const placed = (s: PlacementServer): Placement => ({ ok: true, server: s.name, freeBefore: freeCapacity(s), freeAfter: freeCapacity(s) - weight });

  if (input.requested !== undefined) {
    const server = servers.find((s) => s.name === input.requested);
    if (server === undefined) return { ok: false, reason: "unknown-server", requested: input.requested, known: servers.map((s) => s.name).sort() };
    if (server.status !== "ready") return { ok: false, reason: "server-not-ready", server: server.name, status: server.status };
    if (!server.isolated) return { ok: false, reason: "server-not-isolated", server: server.name };
    if (!fits(server, weight)) return { ok: false, reason: "server-full", server: server.name, free: freeCapacity(server), weight };
    const r = resourceFit(server);
    if (!r.ok) return { ok: false, reason: "server-short", server: server.name, plan: input.plan!.name, short: r, policy: input.plan!.policy };
    return placed(server);
  }

  const candidates = servers
    .filter((s) => s.status === "ready" && s.isolated && fits(s, weight) && resourceFit(s).ok)
    .sort((a, b) => freeCapacity(b) - freeCapacity(a) || byName(a, b));
  const best = candidates[0];
  if (best !== undefined) return placed(best);
  return {
    ok: false,
    reason: "no-capacity",
    weight,
    servers: [...servers].sort(byName).map((s) => {
      const r = resourceFit(s);
      return { name: s.name, status: s.status === "ready" && !s.isolated ? "not isolated" : s.status, free: freeCapacity(s), ...(r.ok ? {} : { short: r.short }) };
    }),
  };
}

const units = (n: number): string => String(Math.round(n * 100) / 100);

/** The error a refusal becomes (all exit 2: the request cannot be met as asked). */
export function placementError(refusal: PlacementRefusal): BtwError {
  switch (refusal.reason) {
    case "unknown-server":
      return new NotFoundError("server", refusal.requested, {
        hint: refusal.known.length > 0 ? `known servers: ${refusal.known.join(", ")} (btw server list)` : "add one with `btw server add`",
      });
    case "server-not-ready":
      return new ConflictError(`server '${refusal.server}' is ${refusal.status}, not ready for new tenants`, {
        code: "server-not-ready",
        hint: `run \`btw server check ${refusal.server}\`, or omit --server to let btw choose`,
      });
    case "server-not-isolated":
      return new ConflictError(`server '${refusal.server}' takes no tenants: its tenant isolation rules are not in force (or were never checked)`, {
        code: "server-not-isolated",
        hint: `run \`btw server isolate ${refusal.server}\` (it installs the rules and checks them), or omit --server to let btw choose`,
      });
    case "server-full":
      return new ConflictError(
        `server '${refusal.server}' has ${units(refusal.free)} capacity units free; the plan needs ${units(refusal.weight)}`,
        { code: "server-full", hint: "omit --server to let btw choose, or add a server with `btw server add`", details: { ...refusal } },
      );
    case "server-short":
      return new ConflictError(describeShort(refusal.server, refusal.plan, refusal.short, refusal.policy), {
        code: "server-short",
        hint: "omit --server to let btw choose, add a server (`btw server add`), or see `btw capacity`",
        details: { server: refusal.server, short: refusal.short },
      });
    case "no-capacity": {
      const list = refusal.servers.map((s) => `${s.name} ${s.status === "ready" ? (s.short ? `short of ${s.short}` : `${units(s.free)} free`) : s.status}`).join(", ");
      return new ConflictError(`no server has room for a plan of weight ${units(refusal.weight)}${list ? ` (${list})` : " (no servers)"}`, {
        code: "no-capacity",
        hint: refusal.servers.some((s) => s.status === "not isolated")
          ? "`btw server isolate` the servers marked not isolated, add a server (`btw infra apply` or `btw server add`), or choose a smaller plan"
          : "add a server (`btw infra apply` or `btw server add`), or choose a smaller plan",
        details: { weight: refusal.weight, servers: refusal.servers },
      });
    }
  }
}
