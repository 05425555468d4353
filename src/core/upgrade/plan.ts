// Pure decisions of a fleet upgrade: which image `--to` names, who goes in which wave, and
// when a rollout stops. No I/O.

import { UsageError } from "../../errors.js";

/**
 * `--to 2.9.0` keeps the repository of the default image (images.n8n in btw.yml) and
 * changes its tag; `--to registry/n8nio/n8n:2.9.0` (anything with a `/` or a `:`) is taken
 * as the full image. A digest pin is kept as given.
 */
export function resolveTargetImage(to: string, defaultImage: string): string {
  const v = to.trim();
  if (v === "") throw new UsageError("--to needs a version (e.g. 2.9.0) or an image");
  if (/\s/.test(v)) throw new UsageError(`--to ${JSON.stringify(to)} is not a version or an image`);
  if (v.endsWith(":latest")) throw new UsageError("--to must name a pinned version, not :latest");
  if (v.includes("/") || v.includes(":") || v.includes("@")) return v;
  if (!/^v?\d+(\.\d+){0,2}([-.][0-9A-Za-z.-]+)?$/.test(v)) throw new UsageError(`--to ${JSON.stringify(to)} is not a version (e.g. 2.9.0) or an image`);
  return `${repositoryOf(defaultImage)}:${v.replace(/^v/, "")}`;
}

/** The image without its tag or digest: "r:5000/n8nio/n8n:2.8.4" → "r:5000/n8nio/n8n". */
export function repositoryOf(image: string): string {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(0, colon) : noDigest;
}

/** The tag (or digest) of an image, "?" when it has none. */
export function versionOf(image: string | null): string {
  if (!image) return "?";
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1);
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/") ? image.slice(colon + 1) : "?";
}

export interface WaveInput {
  slug: string;
  server: string;
}

export interface Waves<T> {
  canary: T[];
  waves: T[][];
}

/**
 * Canary tenants first (the first `canary`, one per server where possible, so each server's
 * pull and engine are tried before a wave), then waves of `waveSize` in slug order.
 */
export function planWaves<T extends WaveInput>(tenants: readonly T[], opts: { waveSize: number; canary: number }): Waves<T> {
  if (!(opts.waveSize >= 1)) throw new UsageError("--wave-size must be at least 1");
  if (!(opts.canary >= 0)) throw new UsageError("--canary must be 0 or more");
  const sorted = [...tenants].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  const canary: T[] = [];
  const seen = new Set<string>();
  for (const t of sorted) {
    if (canary.length >= opts.canary) break;
    if (!seen.has(t.server)) {
      canary.push(t);
      seen.add(t.server);
    }
  }
  for (const t of sorted) {
    if (canary.length >= opts.canary) break;
    if (!canary.includes(t)) canary.push(t);
  }
  const rest = sorted.filter((t) => !canary.includes(t));
  const waves: T[][] = [];
  for (let i = 0; i < rest.length; i += opts.waveSize) waves.push(rest.slice(i, i + opts.waveSize));
  return { canary, waves };
}

/** The rollout halts once more than `maxFailures` tenants failed (default 0: the first). */
export function shouldHalt(failures: number, maxFailures: number): boolean {
  return failures > maxFailures;
}

/** How many tenants run each version: the fleet's spread. */
export function spread(images: ReadonlyArray<string | null>): Array<{ version: string; tenants: number }> {
  const m = new Map<string, number>();
  for (const i of images) m.set(versionOf(i), (m.get(versionOf(i)) ?? 0) + 1);
  return [...m.entries()].map(([version, tenants]) => ({ version, tenants })).sort((a, b) => b.tenants - a.tenants || (a.version < b.version ? -1 : 1));
}
