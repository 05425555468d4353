// Human progress goes to stderr so `--json` output on stdout stays machine-readable.

export function say(message: string): void {
  process.stderr.write(`lab: ${message}\n`);
}

/** Runs a step and reports how long it took; the budgets in LAB.md are about these. */
export async function timed<T>(what: string, step: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await step();
  say(`${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
