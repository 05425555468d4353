// WF3's schedule from the tenant's plan: `articlesPerWeek` runs a week (one article each),
// in the tenant's timezone (the workflow's settings.timezone). Pure.
//
// Runs are spread over the week: n ≤ 7 on n days as evenly apart as the week allows, from
// Monday (2 → Monday and Thursday 08:00, as the seed says); more than 7 as ⌊n/7⌋ or ⌊n/7⌋+1
// runs a day between 08:00 and 20:00. One cron expression per (hours, days) group, so the
// Schedule Trigger holds a few intervals, never one per run.

const DOW = ["1", "2", "3", "4", "5", "6", "0"]; // cron day-of-week, Monday first
const FIRST_HOUR = 8;
const SPAN_HOURS = 12;

function hours(runs: number): number[] {
  return Array.from({ length: runs }, (_, j) => FIRST_HOUR + Math.floor((j * SPAN_HOURS) / runs));
}

/** Cron expressions (minute hour dom month dow) that fire `perWeek` times a week; null = the template's own. */
export function articleCrons(perWeek: number | null): string[] | null {
  if (perWeek === null) return null;
  if (!Number.isInteger(perWeek) || perWeek < 1) throw new RangeError(`articlesPerWeek must be a positive integer, not ${perWeek}`);
  const perDay = new Array<number>(7).fill(Math.floor(perWeek / 7));
  const extra = perWeek % 7;
  // the extra runs on days spread from Monday: i·7/extra
  for (let i = 0; i < extra; i++) perDay[Math.floor((i * 7) / extra)]! += 1;
  const groups = new Map<number, number[]>();
  perDay.forEach((runs, day) => {
    if (runs > 0) groups.set(runs, [...(groups.get(runs) ?? []), day]);
  });
  return [...groups.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([runs, days]) => `0 ${hours(runs).join(",")} * * ${days.length === 7 ? "*" : days.map((d) => DOW[d]).join(",")}`);
}

/** How many times a week these crons fire (for checks): a `0 h1,h2 * * d1,d2` shape only. */
export function runsPerWeek(crons: readonly string[]): number {
  let n = 0;
  for (const c of crons) {
    const [, h, , , dow] = c.split(" ");
    n += h!.split(",").length * (dow === "*" ? 7 : dow!.split(",").length);
  }
  return n;
}
