// The state's identity (006_state_identity.sql): the uuid that labels what this state owns.

import type { Queryable } from "./db.js";

/** This state's uuid; null when the schema predates 006 (the caller then labels nothing). */
export async function readStateId(q: Queryable): Promise<string | null> {
  const exists = await q.query<{ t: string | null }>(`select to_regclass('state_identity')::text as t`);
  if (!exists.rows[0]?.t) return null;
  const r = await q.query<{ id: string }>(`select id::text as id from state_identity`);
  return r.rows[0]?.id ?? null;
}
