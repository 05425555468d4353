// $BTW_HOME/schedule.env: the secrets a job run from cron needs (notification URLs, SMTP
// password, S3 keys…), since cron starts with an empty environment and a crontab is no
// place for secrets. KEY=VALUE lines, # comments, optional single or double quotes. Pure.

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`schedule.env: a line is not KEY=VALUE (line ${text.split("\n").indexOf(raw) + 1})`);
    let v = m[2]!;
    if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}
