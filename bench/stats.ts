export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const ms = (n: number) => `${n.toFixed(1)} ms`;

/**
 * The p-th percentile (0–100) by nearest rank: always a value that was measured. With a
 * handful of runs p95 is the maximum — an interpolated figure would be invented precision.
 */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]!;
}
