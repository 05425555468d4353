// What btw says when a scheduled job fails: one notice, shaped for each channel (Slack
// text, a webhook's JSON, an email with the job's report attached). Pure.

export interface JobOutcome {
  job: string;
  exitCode: number;
  startedAt: Date;
  finishedAt: Date;
  /** the operator host the job ran on */
  host: string;
  /** what the job printed (its --json on stdout, its log on stderr) */
  report: string;
}

export interface Notice {
  event: "job.failed" | "job.partial" | "quota.80" | "quota.100";
  job: string;
  exitCode: number;
  subject: string;
  text: string;
  /** tenants the report names as failed (from the job's --json), if any */
  failedTenants: string[];
  report: { filename: string; content: string };
  at: Date;
}

/** btw's exit codes as words. */
export function outcomeWord(exitCode: number): string {
  return exitCode === 3 ? "partially failed" : exitCode === 2 ? "was called wrongly" : exitCode === 0 ? "succeeded" : "failed";
}

/** Tenants a job's --json report names as failed: `results[]` with ok false and not skipped. */
export function failedTenantsOf(report: string): string[] {
  const start = report.indexOf("{");
  if (start < 0) return [];
  for (let end = report.lastIndexOf("}"); end > start; end = report.lastIndexOf("}", end - 1)) {
    try {
      const doc = JSON.parse(report.slice(start, end + 1)) as { results?: Array<{ ok?: boolean; skipped?: boolean; tenant?: string }> };
      return (doc.results ?? []).filter((r) => r.ok === false && !r.skipped && typeof r.tenant === "string").map((r) => r.tenant!);
    } catch {
      // not this closing brace: try an earlier one (a log line may follow the JSON)
    }
  }
  return [];
}

export function jobNotice(o: JobOutcome): Notice {
  const failedTenants = failedTenantsOf(o.report);
  const word = outcomeWord(o.exitCode);
  const seconds = Math.round((o.finishedAt.getTime() - o.startedAt.getTime()) / 1000);
  const subject = `[btw] ${o.job} ${word} (exit ${o.exitCode}) on ${o.host}`;
  const text = [
    `The scheduled job ${o.job} ${word}: exit code ${o.exitCode}, after ${seconds} s, on ${o.host}, started ${o.startedAt.toISOString()}.`,
    failedTenants.length ? `Failed tenants: ${failedTenants.join(", ")}.` : "",
    "The report is attached. Look: btw schedule status",
  ]
    .filter(Boolean)
    .join("\n");
  return {
    event: o.exitCode === 3 ? "job.partial" : "job.failed",
    job: o.job,
    exitCode: o.exitCode,
    subject,
    text,
    failedTenants,
    report: { filename: `${o.job}-${o.startedAt.toISOString().replace(/[-:.]/g, "")}.txt`, content: o.report },
    at: o.finishedAt,
  };
}

/** Slack's incoming-webhook body; the report's tail inline (Slack webhooks take no files). */
export function slackPayload(n: Notice, channel?: string): Record<string, unknown> {
  const tail = n.report.content.length > 2500 ? "…" + n.report.content.slice(-2500) : n.report.content;
  return { ...(channel ? { channel } : {}), text: `*${n.subject}*\n${n.text}\n\`\`\`${tail}\`\`\`` };
}

/** The generic webhook's JSON body: the facts as fields, the whole report included. */
export function webhookPayload(n: Notice): Record<string, unknown> {
  return {
    source: "btw",
    event: n.event,
    job: n.job,
    exitCode: n.exitCode,
    subject: n.subject,
    text: n.text,
    failedTenants: n.failedTenants,
    at: n.at.toISOString(),
    report: n.report,
  };
}

export interface EmailEnvelope {
  from: string;
  to: readonly string[];
  /** a unique token for the MIME boundary and Message-ID (the caller's randomness) */
  token: string;
  domain: string;
}

/** RFC 5322 message, CRLF line ends, the report as a base64 text/plain attachment. */
export function emailMessage(n: Notice, e: EmailEnvelope): string {
  const boundary = `btw-${e.token}`;
  const b64 = (s: string) => (Buffer.from(s, "utf8").toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
  const subject = /^[\x20-\x7e]*$/.test(n.subject) ? n.subject : `=?UTF-8?B?${Buffer.from(n.subject, "utf8").toString("base64")}?=`;
  return [
    `From: ${e.from}`,
    `To: ${e.to.join(", ")}`,
    `Subject: ${subject}`,
    `Date: ${n.at.toUTCString()}`,
    `Message-ID: <${e.token}@${e.domain}>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    b64(n.text),
    `--${boundary}`,
    `Content-Type: text/plain; charset=utf-8; name="${n.report.filename}"`,
    `Content-Disposition: attachment; filename="${n.report.filename}"`,
    "Content-Transfer-Encoding: base64",
    "",
    b64(n.report.content),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}
