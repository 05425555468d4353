// Pure parts of a tenant's Redis upgrade: minor versions of one major only (same data
// format family: the new server reads the old one's AOF/RDB in place, and the old one can
// still read it back for a rollback). A new major is refused.

import { UsageError } from "../../errors.js";
import { repositoryOf, versionOf } from "./plan.js";

function majorOfRedis(image: string): string {
  const m = /^(\d{1,3})\.\d+/.exec(versionOf(image));
  if (!m) throw new UsageError(`cannot tell the Redis version of ${image}: its tag must start with it (e.g. redis:8.0.3)`, { code: "redis-version-unknown" });
  return m[1]!;
}

/** `--to 8.0.3` keeps images.redis's repository; a full image (with `/` or `:`) is taken as given. */
export function resolveRedisTarget(to: string, defaultImage: string): string {
  const v = to.trim();
  if (v === "" || /\s/.test(v) || v.endsWith(":latest")) throw new UsageError(`--to ${JSON.stringify(to)} is not a pinned Redis version (e.g. 8.0.3) or image`);
  const image = v.includes("/") || v.includes(":") ? v : /^\d+\.\d+(\.\d+)?$/.test(v) ? `${repositoryOf(defaultImage)}:${v}` : null;
  if (image === null) throw new UsageError(`--to ${JSON.stringify(to)} is not a Redis version (e.g. 8.0.3) or an image`);
  majorOfRedis(image);
  return image;
}

/** Refuses a change of major (not a minor upgrade). */
export function checkRedisUpgrade(slug: string, current: string, target: string): { from: string; to: string } {
  const a = majorOfRedis(current);
  const b = majorOfRedis(target);
  if (a !== b) throw new UsageError(`${slug} runs Redis ${versionOf(current)}: ${versionOf(target)} is another major; upgrade redis moves within one major only`, { code: "redis-major-change" });
  return { from: current, to: target };
}
