// The monitoring stack as files: the compose templates (structure, then real Compose when
// this machine has it), Grafana's provisioning and dashboards (structure; every query parsed
// by the real promtool), and `monitoring deploy`'s plan.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { monitoringSchema } from "../../../src/config/monitoring-schema.js";
import { WRITE_FILE_ATOMIC_SCRIPT } from "../../../src/core/commands/files.js";
import { planExportersDeploy, planStackDeploy, stackEnv } from "../../../src/core/monitoring/deploy-plan.js";
import { BTW_METRICS, JOBS } from "../../../src/core/monitoring/jobs.js";
import { MONITORING_LAYOUT, planMonitoringSync } from "../../../src/core/monitoring/sync-plan.js";
import { promtool } from "../../support/promtool.js";
import { CLEAN_ENV, findCompose, run } from "../tenant/external-tools.js";

const ROOT = join(import.meta.dirname, "../../../templates/monitoring");
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const stack = parse(read("compose.yml")) as Any;
const exporters = parse(read("exporters.yml")) as Any;
const datasource = (parse(read("grafana/provisioning/datasources/prometheus.yml")) as Any).datasources[0];
const provider = (parse(read("grafana/provisioning/dashboards/btw.yml")) as Any).providers[0];
const dashboards = readdirSync(join(ROOT, "grafana/dashboards")).map((f) => ({ file: f, doc: JSON.parse(read(`grafana/dashboards/${f}`)) as Any }));
const monitoring = monitoringSchema.parse({});
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("templates/monitoring/compose.yml", () => {
  it("runs the four services from images in .env, publishing web ports on the private address only", () => {
    expect(Object.keys(stack.services).sort()).toEqual(["alertmanager", "blackbox", "grafana", "prometheus"]);
    for (const [name, svc] of Object.entries<Any>(stack.services)) {
      expect(svc.image, name).toMatch(/^\$\{[A-Z_]+_IMAGE(:\?[^}]*)?\}$/);
      for (const p of svc.ports ?? []) expect(p, name).toMatch(/^\$\{BIND_ADDRESS(:\?[^}]*)?\}:\d+:\d+$/);
      expect(svc.deploy.resources.limits, name).toHaveProperty("memory");
    }
    expect(stack.services.blackbox.ports).toBeUndefined();
  });

  it("mounts the directories monitoring sync writes (never single files), under the names it reloads", () => {
    expect(stack.services.prometheus.container_name).toBe(MONITORING_LAYOUT.prometheusContainer);
    expect(stack.services.prometheus.volumes).toContain(`./prometheus:${MONITORING_LAYOUT.inContainer.dir}:ro`);
    expect(MONITORING_LAYOUT.prometheusDir).toBe(`${MONITORING_LAYOUT.dir}/prometheus`);
    expect(stack.services.prometheus.command).toContain("--storage.tsdb.retention.time=${RETENTION:?RETENTION missing from .env}");
    expect(stack.services.alertmanager.volumes).toContain("./alertmanager:/etc/alertmanager:ro");
    expect(stack.services.grafana.volumes).toContain(`./grafana/dashboards:${provider.options.path}:ro`);
  });

  it("exporters: node exporter with btw's textfile directory, cAdvisor, both on the private address", () => {
    expect(Object.keys(exporters.services).sort()).toEqual(["cadvisor", "node-exporter"]);
    expect(exporters.services["node-exporter"].command).toContain("--web.listen-address=${BIND_ADDRESS:?BIND_ADDRESS missing from .env}:9100");
    expect(exporters.services["node-exporter"].command).toContain("--collector.textfile.directory=/textfile");
    expect(exporters.services.cadvisor.ports).toEqual(["${BIND_ADDRESS}:8080:8080"]);
    expect(monitoring.ports.nodeExporter).toBe(9100);
    expect(monitoring.ports.cadvisor).toBe(8080);
  });

  it("is valid for real Compose v2 with the .env btw renders", () => {
    // never skipped: `npm test` extracts Compose from the lab images (scripts/tool-binaries.sh)
    const compose = findCompose();
    if (compose === null) throw new Error("Compose v2 (BTW_COMPOSE_BIN) not found: run the suite with `npm test`, or set the variable to a binary");
    for (const [file, env] of [["compose.yml", stackEnv(monitoring, "10.0.1.9", "pw'\"$x")], ["exporters.yml", null]] as const) {
      const d = mkdtempSync(join(tmpdir(), "btw-mon-compose-"));
      dirs.push(d);
      writeFileSync(join(d, "compose.yml"), read(file));
      writeFileSync(join(d, ".env"), env ?? `NODE_EXPORTER_IMAGE=${monitoring.images.nodeExporter}\nCADVISOR_IMAGE=${monitoring.images.cadvisor}\nBIND_ADDRESS=10.0.1.9\nTEXTFILE_DIR=/var/lib/prometheus/node-exporter\n`);
      // with the optional services' profiles on, as btw passes them by default
      const profile = file === "compose.yml" ? "grafana" : "cadvisor";
      const r = run([...compose!, "--project-directory", d, "-f", join(d, "compose.yml"), "--env-file", join(d, ".env"), "--profile", profile, "config", "--format", "json"], { env: CLEAN_ENV });
      expect(r.status, r.stderr).toBe(0);
      expect(Object.keys(JSON.parse(r.stdout).services).sort()).toEqual(file === "compose.yml" ? ["alertmanager", "blackbox", "grafana", "prometheus"] : ["cadvisor", "node-exporter"]);
      // without it (monitoring.grafana / monitoring.cadvisor false) the service is left out
      const off = run([...compose!, "--project-directory", d, "-f", join(d, "compose.yml"), "--env-file", join(d, ".env"), "config", "--services"], { env: CLEAN_ENV });
      expect(off.status, off.stderr).toBe(0);
      expect(off.stdout.split("\n")).not.toContain(profile);
      // `config` prints $ as $$ (its output is a compose file again): the value is pw'"$x
      if (file === "compose.yml") expect(JSON.parse(r.stdout).services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toBe("pw'\"$$x");
    }
  });
});

describe("Grafana provisioning and dashboards", () => {
  it("provisions the stack's Prometheus under the uid every panel uses", () => {
    expect(datasource).toMatchObject({ uid: "btw-prometheus", type: "prometheus", url: "http://prometheus:9090" });
    expect(dashboards.map((d) => d.file).sort()).toEqual(["fleet-overview.json", "tenant-detail.json"]);
    expect(new Set(dashboards.map((d) => d.doc.uid)).size).toBe(dashboards.length);
  });

  it.each(dashboards.map((d) => [d.file, d.doc]))("%s: panels have unique ids, fit the grid, query the provisioned data source", (_f, doc: Any) => {
    expect(doc.title).toMatch(/^btw — /);
    expect(doc.panels.length).toBeGreaterThan(5);
    expect(new Set(doc.panels.map((p: Any) => p.id)).size).toBe(doc.panels.length);
    for (const p of doc.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.datasource.uid, p.title).toBe(datasource.uid);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource.uid).toBe(datasource.uid);
    }
  });

  it("the tenant dashboard chooses its tenant from btw's own metric", () => {
    const t = dashboards.find((d) => d.file === "tenant-detail.json")!.doc;
    expect(t.templating.list[0]).toMatchObject({ name: "tenant", definition: `label_values(${BTW_METRICS.n8nVersion}, tenant)` });
    for (const p of t.panels) for (const q of p.targets) expect(q.expr, p.title).toMatch(/\$tenant/);
  });

  it("every query parses (promtool) and names only jobs and btw metrics that exist", () => {
    const exprs = dashboards.flatMap((d) => d.doc.panels.flatMap((p: Any) => p.targets.map((t: Any) => t.expr as string)));
    const jobs = new Set<string>(Object.values(JOBS));
    const btw = new Set<string>(Object.values(BTW_METRICS));
    for (const e of exprs) {
      for (const [, j] of e.matchAll(/job="([^"]+)"/g)) expect(jobs.has(j!), `${e}: job ${j}`).toBe(true);
      for (const [m] of e.matchAll(/\bbtw_[a-z0-9_]+/g)) expect(btw.has(m), `${e}: ${m}`).toBe(true);
    }
    const d = mkdtempSync(join(tmpdir(), "btw-dash-"));
    dirs.push(d);
    const rules = exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.replaceAll("$__rate_interval", "5m").replaceAll("$tenant", "acme") }));
    writeFileSync(join(d, "queries.yml"), stringify({ groups: [{ name: "dashboards", rules }] }));
    const r = promtool(["check", "rules", "queries.yml"], d);
    expect(r.status, r.output).toBe(0);
  });
});

describe("monitoring deploy's plan", () => {
  const assets = { compose: "C", exporters: "E", grafana: { "dashboards/a.json": "{}", "provisioning/datasources/p.yml": "d" } };
  const sync = planMonitoringSync({ targets: {}, rules: "r", prometheusConfig: "p", btwMetrics: "m", textfileDir: monitoring.textfileDir, credentials: {} });

  it("puts the exporters on a server and starts them", () => {
    const steps = planExportersDeploy(monitoring, assets, "10.0.1.2");
    expect(steps.map((s) => s.argv)).toEqual([
      ["mkdir", "-p", "-m", "0755", "--", "/opt/btw/exporters"],
      ["mkdir", "-p", "-m", "0755", "--", "/var/lib/prometheus/node-exporter"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/opt/btw/exporters/compose.yml", "0644"],
      ["sh", "-c", WRITE_FILE_ATOMIC_SCRIPT, "sh", "/opt/btw/exporters/.env", "0644"],
      ["docker", "compose", "-p", "btw-exporters", "--project-directory", "/opt/btw/exporters", "-f", "/opt/btw/exporters/compose.yml", "--env-file", "/opt/btw/exporters/.env", "--profile", "cadvisor", "up", "-d", "--remove-orphans", "--wait", "--wait-timeout", "300"],
    ]);
    expect(steps[3]!.input).toContain("BIND_ADDRESS=10.0.1.2\n");
  });

  it("leaves cAdvisor and Grafana out when the config turns them off (their Compose profiles not passed)", () => {
    const off = monitoringSchema.parse({ grafana: false, cadvisor: false });
    const up = (steps: { argv: string[] }[]) => steps.find((s) => s.argv.includes("compose"))!.argv;
    expect(up(planExportersDeploy(off, assets, "10.0.1.2"))).not.toContain("--profile");
    const stack = planStackDeploy({ monitoring: off, assets, bindAddress: "10.0.1.9", grafanaAdminPassword: "unused", alertmanagerConfig: "am", alertmanagerSecrets: {}, syncSteps: sync });
    expect(up(stack)).not.toContain("--profile");
    const on = planStackDeploy({ monitoring, assets, bindAddress: "10.0.1.9", grafanaAdminPassword: "g", alertmanagerConfig: "am", alertmanagerSecrets: {}, syncSteps: sync });
    expect(up(on).join(" ")).toContain("--profile grafana up -d");
  });

  it("writes secrets on stdin into 0600 files owned by Alertmanager's user, starts the stack, then reloads Prometheus", () => {
    const steps = planStackDeploy({ monitoring, assets, bindAddress: "10.0.1.9", grafanaAdminPassword: "grafana-secret", alertmanagerConfig: "am", alertmanagerSecrets: { "slack-webhook-url": "https://hooks.example/secret-path" }, syncSteps: sync });
    const env = steps.find((s) => s.argv.includes("/opt/btw/monitoring/.env"))!;
    expect(env.argv.at(-1)).toBe("0600");
    expect(env.input).toContain("GRAFANA_ADMIN_PASSWORD=grafana-secret");
    const slack = steps.find((s) => s.argv.includes("/opt/btw/monitoring/alertmanager/secrets/slack-webhook-url"))!;
    expect(slack.argv.at(-1)).toBe("0600");
    expect(steps.map((s) => s.argv)).toContainEqual(["chown", "-R", "65534:65534", "--", "/opt/btw/monitoring/alertmanager/secrets"]);
    for (const s of steps) {
      expect(s.argv.join(" ")).not.toMatch(/secret-path|grafana-secret/);
      expect(s.describe).not.toMatch(/secret-path|grafana-secret/);
    }
    const names = steps.map((s) => s.describe);
    expect(names.indexOf("docker compose -p btw-monitoring up -d")).toBeLessThan(names.indexOf("reload Prometheus (SIGHUP) if it runs"));
    expect(names.at(-1)).toBe("reload Prometheus (SIGHUP) if it runs");
    expect(names).toContain("write /opt/btw/monitoring/grafana/dashboards/a.json (2 bytes)");
  });

  it("pins every default image by version", () => {
    for (const image of Object.values(monitoring.images)) expect(image).toMatch(/:v?\d+\.\d+\.\d+$/);
    expect(monitoringSchema.safeParse({ images: { prometheus: "prom/prometheus" } }).success).toBe(false);
  });
});
