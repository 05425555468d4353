// `btw monitoring deploy` on the lab with the lab's Prometheus, Alertmanager, blackbox and node
// exporter images (built from Debian's packages), short lab values from btw.yml's monitoring
// section: Prometheus scrapes both servers, two tenants' n8n and btw's backup facts; a
// stopped n8n reaches a fake of Slack's incoming webhook as TenantNotReady, and its
// resolution when started again; a backup older than the (small) threshold fires
// BackupStale; the scheduled `backup all` with one server's sshd unreachable sends exit code
// and failed tenant to the fake Slack, a generic webhook and a fake SMTP server.
//
// Time: ~3–7 min (184 s alone; 381 s in CI's two lanes beside unit and integration): two tenants
// created at once, the monitoring images on first use, and the alert pipeline's own clocks —
// Prometheus scrapes and rule evaluation, Alertmanager's group wait, BackupStale's 90 s
// threshold — waited on as events, not slept; they cannot be shortened without changing what
// the alert rules say.
//
// The fakes listen on the lab bridge's address (172.29.0.1): Alertmanager on lab-1 and btw on
// this host both reach it.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { purgeByLabel } from "../../src/core/commands/tenant-purge.js";
import { BTW, type BtwHome, type BtwResult } from "../support/cli.js";
import { startFakeSmtp, type FakeSmtp } from "../support/fake-smtp.js";
import { startFakeWebhook, type FakeWebhook } from "../support/fake-webhook.js";
import { labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { LAB_IMAGES_TIMEOUT_MS, ensureLabImages, labInfo, type LaneLab } from "./support/lab.js";

const GATEWAY = "172.29.0.1";
const [A, B] = ["mon-a", "mon-b"];
/** BackupStale's threshold in the lab: schedule 90 s, no margin (60 s left too little room on a loaded CI machine between A's backup and the check that its alert resolved). */
const STALE_AFTER_SEC = 90;
const STACK_PROJECTS = ["btw-monitoring", "btw-exporters"];

const measure = (line: string) => process.stderr.write(`monitoring e2e: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 2 s until it returns a value, or fails naming `what` and the last state seen. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, state?: () => string): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const v = await probe();
      if (v !== undefined) {
        measure(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        return v;
      }
    } catch (e) {
      last = e;
    }
    await sleep(2000);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ""}${state ? `\n${state()}` : ""}`);
}

interface PromTarget {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}
interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe("monitoring on the lab", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  let slack: FakeWebhook;
  let hook: FakeWebhook;
  let smtp: FakeSmtp;
  let prometheus: string;
  let blocked = false;
  const t0 = Date.now();

  const btw = async (args: string[], timeoutMs = 400_000): Promise<BtwResult> => {
    const r = await execa(process.execPath, [BTW, ...args], { env: home.env, extendEnv: false, reject: false, cwd: home.dir, timeout: timeoutMs });
    return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const must = async (args: string[]): Promise<BtwResult> => {
    const r = await btw(args);
    expect(r.code, `btw ${args.join(" ")}\n${r.stderr}`).toBe(0);
    return r;
  };
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${prometheus}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T };
    if (body.status !== "success") throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body.data;
  };
  const targets = async () => (await api<{ activeTargets: PromTarget[] }>("/api/v1/targets?state=active")).activeTargets;
  const query = async (q: string) => (await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(q)}`)).result;
  /** Slack messages from Alertmanager (attachments with title and text), flattened to one line each. */
  const slackAlerts = () =>
    slack.received
      .map((r) => r.json as { attachments?: Array<{ title?: string; text?: string }> } | null)
      .flatMap((j) => j?.attachments ?? [])
      .map((a) => `${a.title ?? ""} | ${a.text ?? ""}`);

  const purgeLeftovers = async () => {
    for (const vm of [vm1, vm2]) {
      for (const t of [A, B]) {
        await onVm(vm, ["docker", "network", "disconnect", "-f", `btw-${t}-edge`, "btw-proxy"]);
        await onVm(vm, purgeByLabel(t));
        await onVm(vm, ["rm", "-rf", `/opt/btw/tenants/${t}`]);
      }
      // the monitoring stack and exporters of an earlier run (their volumes too)
      for (const p of STACK_PROJECTS) {
        await onVm(vm, ["sh", "-c", 'ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1"); [ -z "$ids" ] || docker rm -f -v $ids', "sh", p]);
        await onVm(vm, ["sh", "-c", 'ids=$(docker volume ls -q --filter "label=com.docker.compose.project=$1"); [ -z "$ids" ] || docker volume rm -f $ids', "sh", p]);
        await onVm(vm, ["sh", "-c", 'ids=$(docker network ls -q --filter "label=com.docker.compose.project=$1"); [ -z "$ids" ] || docker network rm $ids', "sh", p]);
      }
      await onVm(vm, ["rm", "-rf", "/opt/btw/monitoring", "/opt/btw/exporters"]);
    }
  };
  /** lab-2's sshd unreachable, as if stopped: new connections refused, open ones reset (from the host: the VM's own sshd keeps running). */
  const sshBlock = async (on: boolean) => {
    const rule = ["INPUT", "-p", "tcp", "--dport", "22", "-j", "REJECT", "--reject-with", "tcp-reset"];
    const r = await execa("docker", ["exec", vm2.name, "iptables", on ? "-I" : "-D", ...rule], { reject: false });
    if (on) expect(r.exitCode, r.stderr).toBe(0);
    blocked = on;
  };

  // the monitoring images, built on first use (`up` leaves them out) and pushed; not pulled:
  // `monitoring deploy` pulls them, as on a real server
  beforeAll(async () => {
    await ensureLabImages(["prometheus", "alertmanager", "blackbox", "nodeExporter"]);
  }, LAB_IMAGES_TIMEOUT_MS);

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1]!];
    expect(vm2, "this file needs two lab servers").toBeDefined();
    await purgeLeftovers();
    [slack, hook, smtp] = await Promise.all([startFakeWebhook({ host: GATEWAY }), startFakeWebhook({ host: GATEWAY }), startFakeSmtp({ host: GATEWAY })]);
    home = await labHome(lab, {
      servers: [],
      env: { BTW_SLACK_WEBHOOK_URL: `${slack.url}/services/T0LAB/B0LAB/fakefakefake`, BTW_WEBHOOK_URL: `${hook.url}/btw` },
    });
    // The lab's short values, in btw.yml's monitoring section as an operator would write them.
    const file = join(home.dir, "btw.yml");
    const cfg = parse(readFileSync(file, "utf8")) as Record<string, any>;
    cfg.monitoring = {
      ...cfg.monitoring, // the lab fragment's images, grafana and cadvisor off
      scrapeInterval: "5s",
      evaluationInterval: "5s",
      readinessProbe: "server", // lab.btw.test has no DNS
      alertmanager: { groupWait: "5s", groupInterval: "10s", repeatInterval: "1h" },
      rules: {
        targetDown: { for: "15s" },
        tenantNotReady: { for: "10s" },
        backupStale: { scheduleHours: STALE_AFTER_SEC / 3600, marginHours: 0 },
      },
    };
    cfg.notifications = {
      email: { host: GATEWAY, port: smtp.port, security: "none", from: "btw@lab.btw.test", to: ["ops@lab.btw.test"] },
      slack: {},
      webhook: {},
    };
    writeFileSync(file, stringify(cfg));
    const add = (s: LabServer, extra: string[]) =>
      must(["server", "add", s.name, "--host", s.host, "--port", String(s.port), "--user", s.user, "--ssh-key", s.sshKey, "--capacity", "12", ...extra]);
    await add(vm1, ["--role", "monitoring"]);
    await add(vm2, []);
    prometheus = `http://${vm1.host}:9090`;
    // both tenants at once (~65 s each on the lab)
    await Promise.all(
      [[A, vm1], [B, vm2]].map(async ([t, vm]) => {
        const c0 = Date.now();
        const r = await btw(["tenant", "create", t as string, "--server", (vm as LabServer).name]);
        expect(r.code, r.stderr).toBe(0);
        measure(`tenant create ${t}: ${((Date.now() - c0) / 1000).toFixed(1)} s`);
      }),
    );
  });

  afterAll(async () => {
    if (blocked) await sshBlock(false);
    await Promise.all([A, B].map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"], { timeoutMs: 300_000 }).catch(() => undefined))); // at once: each takes its own tenant lock
    if (vm1) await purgeLeftovers();
    await Promise.all([slack?.close(), hook?.close(), smtp?.close()]);
    home?.cleanup();
    measure(`whole file: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  it("monitoring deploy puts the exporters on both servers and the stack on lab-1", async () => {
    const d0 = Date.now();
    const r = await must(["monitoring", "deploy", "--json"]);
    measure(`monitoring deploy: ${((Date.now() - d0) / 1000).toFixed(1)} s`);
    const doc = JSON.parse(r.stdout) as { monitoringServer: string; results: Array<{ server: string; ok: boolean }> };
    expect(doc.monitoringServer).toBe(vm1.name);
    expect(doc.results.map((x) => [x.server, x.ok]).sort()).toEqual([[vm1.name, true], [vm2.name, true]]);
    // the lab's images run, Grafana and cAdvisor are off
    const ps = await onVm(vm1, ["docker", "ps", "--format", "{{.Names}} {{.Image}}"]);
    for (const [name, image] of [["btw-monitoring-prometheus", lab.monitoringImages.prometheus], ["btw-monitoring-alertmanager", lab.monitoringImages.alertmanager], ["btw-monitoring-blackbox", lab.monitoringImages.blackbox], ["btw-exporters-node", lab.monitoringImages.nodeExporter]]) {
      expect(ps.stdout).toContain(`${name} ${image}`);
    }
    expect(ps.stdout).not.toMatch(/grafana|cadvisor/);
  });

  it("Prometheus scrapes both servers, both tenants' n8n and readiness, and btw's backup facts", async () => {
    const want = [`node/${vm1.name}`, `node/${vm2.name}`, `n8n/${A}`, `n8n/${B}`, `tenant-readiness/${A}`, `tenant-readiness/${B}`].sort();
    let seen: PromTarget[] = [];
    await until("all targets up", 120_000, async () => {
      seen = await targets();
      const up = seen.filter((t) => t.health === "up").map((t) => `${t.labels.job}/${t.labels.tenant ?? t.labels.server}`).sort();
      return want.every((w) => up.includes(w)) ? up : undefined;
    }, () => JSON.stringify(seen.map((t) => [t.labels.job, t.labels.tenant ?? t.labels.server, t.health, t.lastError])));
    // n8n's own metrics, labelled by tenant and server
    const versions = await query("n8n_version_info");
    expect(versions.map((s) => `${s.metric.tenant}@${s.metric.server}`).sort()).toEqual([`${A}@${vm1.name}`, `${B}@${vm2.name}`]);
    // host metrics from both servers
    expect(new Set((await query("node_memory_MemAvailable_bytes")).map((s) => s.metric.server))).toEqual(new Set([vm1.name, vm2.name]));
    // btw's facts through the monitoring server's node exporter: no backup yet (0) for either
    const facts = await until("btw's backup facts scraped", 120_000, async () => {
      const s = await query("btw_backup_last_success_timestamp_seconds");
      return s.length === 2 ? s : undefined;
    });
    expect(facts.map((s) => [s.metric.tenant, s.value[1]]).sort()).toEqual([[A, "0"], [B, "0"]]);

    // a backup of A: `backup tenant` places the new facts on the monitoring server itself
    const b0 = Date.now();
    await must(["backup", "tenant", A]);
    measure(`backup tenant ${A}: ${((Date.now() - b0) / 1000).toFixed(1)} s`);
    const fresh = await until(`${A}'s backup time in Prometheus`, 90_000, async () => {
      const s = await query(`btw_backup_last_success_timestamp_seconds{tenant="${A}"} > 0`);
      return s[0];
    });
    expect(Date.now() / 1000 - Number(fresh.value[1])).toBeLessThan(STALE_AFTER_SEC);
    // B, never backed up, is stale at once; A, just backed up, is not (yet) — from the rules'
    // next evaluation on (until then ALERTS still holds A's alert of before its backup)
    const stale = await until("BackupStale firing for B, resolved for A", 60_000, async () => {
      const s = await query('ALERTS{alertname="BackupStale",alertstate="firing"}');
      return s.some((x) => x.metric.tenant === B) && !s.some((x) => x.metric.tenant === A) ? s : undefined;
    });
    expect(stale.map((s) => s.metric.tenant)).not.toContain(A);
  });

  it("a stopped n8n reaches the fake Slack as TenantNotReady with the tenant's name; started again, the resolution arrives", async () => {
    const n8n = `btw-${A}-n8n`;
    const stopped = await onVm(vm1, ["docker", "stop", n8n]);
    expect(stopped.code, stopped.stderr).toBe(0);
    try {
      const firing = await until("TenantNotReady at the fake Slack", 150_000, async () =>
        slackAlerts().find((l) => l.includes("[FIRING] TenantNotReady") && l.includes(`tenant ${A}:`)), () => slackAlerts().join("\n"));
      expect(firing).not.toContain(B);
      // the same alert, as Alertmanager's JSON, at the generic webhook
      const json = hook.received.map((r) => r.json as { status?: string; alerts?: Array<{ labels: Record<string, string> }> }).find((j) => j?.alerts?.some((a) => a.labels.alertname === "TenantNotReady"));
      expect(json?.status).toBe("firing");
      expect(json?.alerts?.map((a) => a.labels.tenant)).toEqual([A]);
    } finally {
      const started = await onVm(vm1, ["docker", "start", n8n]);
      expect(started.code, started.stderr).toBe(0);
    }
    await until("TenantNotReady resolved at the fake Slack", 180_000, async () =>
      slackAlerts().find((l) => l.includes("[RESOLVED] TenantNotReady") && l.includes(`tenant ${A}:`)), () => slackAlerts().join("\n"));
  });

  it(`a backup older than the threshold (${STALE_AFTER_SEC} s in the lab) fires BackupStale`, async () => {
    const line = await until(`BackupStale for ${A} at the fake Slack`, 240_000, async () =>
      slackAlerts().find((l) => l.includes("[FIRING] BackupStale") && l.includes(`tenant ${A}:`)), () => slackAlerts().join("\n"));
    expect(line).toContain("no successful backup for too long");
  });

  it("the scheduled backup all with lab-2's sshd unreachable notifies the exit code and the failed tenant by Slack, webhook and email", async () => {
    const before = { slack: slack.received.length, hook: hook.received.length, mail: smtp.received.length };
    await sshBlock(true);
    let r: BtwResult;
    try {
      // the command the crontab line runs (without its flock and jitter)
      r = await btw(["--non-interactive", "schedule", "run", "backup-all", "--jitter", "0"]);
    } finally {
      await sshBlock(false);
    }
    expect(r.code, r.stderr).toBe(3);
    const jobPosts = hook.received.slice(before.hook).map((x) => x.json as { event?: string; exitCode?: number; failedTenants?: string[] }).filter((j) => j?.event);
    expect(jobPosts).toEqual([expect.objectContaining({ event: "job.partial", exitCode: 3, failedTenants: [B] })]);
    const slackText = slack.received.slice(before.slack).map((x) => (x.json as { text?: string } | null)?.text ?? "").find((t) => t.includes("backup-all partially failed"));
    expect(slackText).toMatch(/backup-all partially failed \(exit 3\)/);
    expect(slackText).toContain(`Failed tenants: ${B}.`);
    // (Alertmanager mails the same fake its alerts: btw's own notice is the one about the job)
    const mails = smtp.received.slice(before.mail).filter((m) => /^Subject: \[btw\] backup-all/m.test(m.data));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(["ops@lab.btw.test"]);
    expect(mails[0]!.data).toMatch(/^Subject: \[btw\] backup-all partially failed \(exit 3\)/m);
    // the text part (base64, as btw sends it)
    const body = /Content-Transfer-Encoding: base64\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(mails[0]!.data)?.[1] ?? "";
    expect(Buffer.from(body.replace(/\r\n/g, ""), "base64").toString("utf8")).toContain(`Failed tenants: ${B}.`);
    // and the job's outcome is one of btw's facts on the monitoring server
    await until("the job's exit code in Prometheus", 90_000, async () => {
      const s = await query('btw_schedule_job_last_exit_code{job_name="backup-all"}');
      return s[0]?.value[1] === "3" ? s : undefined;
    });
  });
});
