// Bounded parallelism for bulk jobs: at most `total` at once, and at most `perGroup` per group
// (per server). Items are started in order as slots free up; a failure does not stop the
// others — each result says ok or the error.

export interface PoolLimits {
  total: number;
  perGroup: number;
}

export type Settled<T, R> = { item: T; ok: true; value: R } | { item: T; ok: false; error: unknown };

export async function runBounded<T, R>(items: readonly T[], group: (item: T) => string, limits: PoolLimits, fn: (item: T) => Promise<R>): Promise<Array<Settled<T, R>>> {
  if (!(limits.total >= 1) || !(limits.perGroup >= 1)) throw new RangeError("pool limits must be ≥ 1");
  const results: Array<Settled<T, R>> = new Array(items.length);
  const waiting = items.map((item, index) => ({ item, index }));
  const running = new Map<string, number>();
  let active = 0;
  return new Promise((resolve) => {
    const next = () => {
      if (waiting.length === 0 && active === 0) return resolve(results);
      for (let i = 0; i < waiting.length && active < limits.total; ) {
        const { item, index } = waiting[i]!;
        const g = group(item);
        if ((running.get(g) ?? 0) >= limits.perGroup) {
          i++;
          continue;
        }
        waiting.splice(i, 1);
        active++;
        running.set(g, (running.get(g) ?? 0) + 1);
        Promise.resolve()
          .then(() => fn(item))
          .then(
            (value) => (results[index] = { item, ok: true, value }),
            (error: unknown) => (results[index] = { item, ok: false, error }),
          )
          .finally(() => {
            active--;
            running.set(g, running.get(g)! - 1);
            next();
          });
      }
    };
    next();
  });
}
