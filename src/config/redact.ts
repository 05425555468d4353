import { secretPaths } from "./schema.js";

export const REDACTED = "[REDACTED]";

/** A deep copy with every secret value replaced; safe to print, log or emit as JSON. */
export function redactConfig<T>(config: T): T {
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const path of secretPaths) {
    const keys = path.split(".");
    let cur: Record<string, unknown> | undefined = copy;
    for (const k of keys.slice(0, -1)) cur = cur?.[k] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1]!;
    if (cur && cur[last] !== undefined) cur[last] = REDACTED;
  }
  return copy as T;
}
