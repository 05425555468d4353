// Which tenant secrets `btw tenant secrets rotate` replaces, and when they are due. Pure.

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
