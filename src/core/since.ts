// `--since 2h`, `--since 7d`, `--since 2026-11-01`: one parser for audit, logs and backups.
export function parseSince(value: string, now: Date): Date | null {
  const m = /^(\d+)\s*(s|m|h|d|w)$/.exec(value.trim());
  if (m) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[m[2] as "s" | "m" | "h" | "d" | "w"];
    return new Date(now.getTime() - Number(m[1]) * unit * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const d = new Date(value.trim());
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}
