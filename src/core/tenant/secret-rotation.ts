// Which tenant secrets `btw tenant secrets rotate` replaces, when they are due, and the order
// a rotation runs in, as a value. Pure: the flow (ops/tenant/secrets-rotate.ts) runs exactly
// the steps resumeRotation returns, so the order a test reads here is the order a server sees.

import { OperationError } from "../../errors.js";

export const ROTATED_SECRETS = ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_API_KEY"] as const;
/** While a rotation runs, the new value waits under this name (a re-run reuses it). */
export const pendingName = (name: string) => `${name}_NEXT`;

export const DAY_MS = 86_400_000;

export function ageDays(valueSetAt: Date, now: Date): number {
  return Math.floor((now.getTime() - valueSetAt.getTime()) / DAY_MS);
}

/** Due when any rotated secret is at least `days` old, or one is missing its age. */
export function rotationDue(secrets: ReadonlyArray<{ name: string; valueSetAt: Date }>, now: Date, days: number): boolean {
  const ages = ROTATED_SECRETS.map((n) => secrets.find((s) => s.name === n)).filter((s) => s !== undefined);
  return ages.some((s) => ageDays(s.valueSetAt, now) >= days);
}

// ---- the order ----
//
// One role password is shared by three users: n8n's own connection pool (DB_POSTGRESDB_PASSWORD
// in the .env), its queue worker (the same), and n8n's Postgres *credential* — the one WF1–3's
// Postgres nodes use, stored encrypted in n8n's database and changed only through n8n's API.
// Postgres keeps one password per role, so some window where one of them holds the other
// password is unavoidable; the order picks the windows that a kill may leave open and makes
// every re-run able to close them:
//
//   step        what it does                                       a kill right after it leaves
//   seal        new Postgres/Redis passwords sealed as *_NEXT,     nothing changed outside the state
//               the journal row started (one transaction)
//   credential  n8n's Postgres credential gets the new password,   WF1–3's Postgres nodes refused until
//               as the owner (login with the stored owner           `role` (n8n itself is fine: its pool
//               password, never the API key, which may be the       uses the .env's, still the role's);
//               very thing a killed rotation left dead)             if this step fails, nothing changed
//   role        ALTER ROLE with the new password's SCRAM verifier   n8n's open connections keep working;
//                                                                   new ones (pool recycling, a restart)
//                                                                   are refused until `recreate`
//   recreate    .env rewritten, stack recreated on the new          everything on the new passwords; the
//               passwords (compose up --wait)                       state still calls them *_NEXT
//   promote     *_NEXT become current, *_NEXT dropped (one tx)      the old API key still the state's
//   key-create  a new API key (label `btw rotation <journal id>`)   two valid keys; the state's is the old
//               sealed as N8N_API_KEY_NEXT (one tx)
//   key-promote the new key, checked on the public API, becomes     two valid keys; the state's is the new
//               the state's N8N_API_KEY (one tx)
//   key-revoke  every other key btw made is deleted in n8n          N8N_API_KEY_NEXT left in the state
//   finish      N8N_API_KEY_NEXT dropped, the journal done (one tx)
//
// The journal records the last step done. A re-run redoes the step it was killed in — each
// is idempotent (ALTER ROLE to the same password, compose up of the same .env, a credential
// PATCH with the same data; key-create first deletes a key it made but never sealed) — and
// the ones after. The steps that talk to n8n (NEEDS_N8N) all run while n8n's .env and the
// role agree: before `role`, or after `recreate`; a re-run after a kill between those two
// goes straight to ALTER ROLE and compose up, which need no n8n. At every kill point the
// state's N8N_API_KEY is a key n8n accepts.
//
// A rotation of an older btw (no journal: it altered the role first, then updated the
// credential with the API key, then the .env) may have stopped anywhere in between: its
// *_NEXT passwords are found without a journal, and it is finished in the "legacy" order —
// role, recreate (no n8n needed, whatever was done), then the credential with n8n back up.

export type RotationStep = "seal" | "credential" | "role" | "recreate" | "promote" | "key-create" | "key-promote" | "key-revoke" | "finish";
export type RotationOrder = "standard" | "legacy";

export const ROTATION_ORDERS: Readonly<Record<RotationOrder, readonly RotationStep[]>> = {
  standard: ["seal", "credential", "role", "recreate", "promote", "key-create", "key-promote", "key-revoke", "finish"],
  legacy: ["seal", "role", "recreate", "credential", "promote", "key-create", "key-promote", "key-revoke", "finish"],
};

/** The steps that call the tenant's n8n (as its owner, through the tunnel). */
export const NEEDS_N8N: ReadonlySet<RotationStep> = new Set<RotationStep>(["credential", "key-create", "key-promote", "key-revoke"]);

/** What each step prints as it starts (after "<tenant>: "); the kill e2e matches these. */
export const ROTATION_STEP_TITLES: Readonly<Record<RotationStep, string>> = {
  seal: "new passwords sealed into the state",
  credential: "n8n: the Postgres credential gets the new password (as the owner)",
  role: "database role: new password (SCRAM verifier on psql's stdin)",
  recreate: ".env rewritten, stack recreated",
  promote: "state: the new passwords are current",
  "key-create": "n8n: a new API key, sealed as N8N_API_KEY_NEXT",
  "key-promote": "state: the new API key is current",
  "key-revoke": "n8n: the old API keys revoked",
  finish: "rotation finished",
};

/** What the journal row of an unfinished rotation says (operations.details). */
export interface RotationJournal {
  order: unknown;
  done: unknown;
}

export interface RotationResume {
  order: RotationOrder;
  /** the steps still to run, in order */
  steps: RotationStep[];
  /** an earlier run was interrupted */
  resumed: boolean;
  /** an older btw's rotation found half done: start its journal before the first step */
  startJournal: boolean;
}

/**
 * The steps to run given what the state holds: the running journal row of a rotation (if
 * any) and whether POSTGRES_PASSWORD_NEXT and REDIS_PASSWORD_NEXT are sealed.
 */
export function resumeRotation(facts: { journal: RotationJournal | null; passwordsPending: boolean }): RotationResume {
  const { journal, passwordsPending } = facts;
  if (!journal) {
    if (!passwordsPending) return { order: "standard", steps: [...ROTATION_ORDERS.standard], resumed: false, startJournal: false };
    return { order: "legacy", steps: ROTATION_ORDERS.legacy.slice(1), resumed: true, startJournal: true };
  }
  const order = journal.order;
  if (order !== "standard" && order !== "legacy") {
    throw new OperationError(`unknown secrets-rotation order ${JSON.stringify(order)} in the journal`, { code: "rotation-journal-unknown" });
  }
  const list = ROTATION_ORDERS[order];
  const at = list.indexOf(journal.done as RotationStep);
  if (at < 0) throw new OperationError(`unknown secrets-rotation step ${JSON.stringify(journal.done)} in the journal`, { code: "rotation-journal-unknown" });
  const steps = list.slice(at + 1);
  if (steps.includes("promote") && !passwordsPending) {
    // sealing them and starting the journal is one transaction, and so is dropping them with
    // the promotion: this is a state edited by hand
    throw new OperationError(`the rotation's journal is at '${journal.done}' but the new passwords (*_NEXT) are not in the state`, {
      code: "rotation-next-missing",
      hint: "the database role may hold a password the state does not have: compare the tenant's .env with the state before anything else",
    });
  }
  return { order, steps, resumed: true, startJournal: false };
}

/** The label of the API key a rotation creates: unique per rotation (n8n refuses a label twice). */
export function rotationKeyLabel(base: string, journalId: number): string {
  return `${base} rotation ${journalId}`;
}

/** A key btw made: bootstrap's `base`, or a rotation's. Keys the operator made are never touched. */
export function isBtwKeyLabel(base: string, label: string): boolean {
  return label === base || new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} rotation \\d+$`).test(label);
}

/** The keys key-revoke deletes: every key btw made except the rotation's new one. */
export function keysToRevoke<K extends { label: string }>(keys: readonly K[], base: string, keep: string): K[] {
  return keys.filter((k) => k.label !== keep && isBtwKeyLabel(base, k.label));
}
