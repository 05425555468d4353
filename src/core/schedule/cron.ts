// The next run of a 5-field cron expression (minute hour day-of-month month day-of-week), in
// the operator host's local time as cron reads it. Supports *, numbers, ranges, lists and
// steps — what the `schedule` section accepts. Pure.

const RANGES: ReadonlyArray<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

function field(text: string, [lo, hi]: [number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid cron field '${text}'`);
    const from = m[1] === "*" ? lo : Number(m[2]);
    const to = m[1] === "*" ? hi : m[3] !== undefined ? Number(m[3]) : m[4] ? hi : from;
    const step = m[4] ? Number(m[4]) : 1;
    if (from < lo || to > hi || from > to || step < 1) throw new Error(`cron field '${text}' is out of range ${lo}-${hi}`);
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** cron's rule: when both day fields are restricted, either may match */
  dayOr: boolean;
}

export function parseCron(expr: string): CronSpec {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`'${expr}' is not a 5-field cron expression`);
  const [mi, ho, dm, mo, dw] = parts.map((p, i) => field(p, RANGES[i]!));
  if (dw!.has(7)) dw!.add(0);
  return { minutes: mi!, hours: ho!, days: dm!, months: mo!, weekdays: dw!, dayOr: parts[2] !== "*" && parts[4] !== "*" };
}

/** The first minute strictly after `after` that the expression matches (within ~4 years). */
export function nextRun(expr: string, after: Date): Date {
  const c = parseCron(expr);
  const t = new Date(after.getTime());
  t.setSeconds(0, 0);
  t.setMinutes(t.getMinutes() + 1);
  const limit = after.getTime() + 4 * 366 * 86400_000;
  while (t.getTime() <= limit) {
    const dayOk = c.dayOr ? c.days.has(t.getDate()) || c.weekdays.has(t.getDay()) : c.days.has(t.getDate()) && c.weekdays.has(t.getDay());
    if (!c.months.has(t.getMonth() + 1) || !dayOk) {
      t.setDate(t.getDate() + 1);
      t.setHours(0, 0, 0, 0);
    } else if (!c.hours.has(t.getHours())) {
      t.setHours(t.getHours() + 1, 0, 0, 0);
    } else if (!c.minutes.has(t.getMinutes())) {
      t.setMinutes(t.getMinutes() + 1, 0, 0);
    } else return t;
  }
  throw new Error(`'${expr}' never matches`);
}
