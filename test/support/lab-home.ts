import { mkdirSync } from "node:fs";
import { execa } from "execa";
import { expect } from "vitest";
import { tempHome, type BtwHome } from "./cli.js";

// A btw home wired to the lab: the lab's image fragment merged into btw.yml, plain-HTTP
// proxy, and the lab's VMs registered as servers.

export interface LabServer {
  name: string;
  host: string;
  port: number;
  user: string;
  sshKey: string;
}

export interface LabInfo {
  servers: LabServer[];
  registry: string;
  images: Record<"n8n" | "postgres" | "redis" | "caddy", string>;
  /** an older n8n whose database images.n8n migrates forward (test/lab/lab.ts) */
  n8nPrevious: { version: string; image: string };
  /** an older Postgres major, Debian bookworm's (test/lab/lab.ts) */
  postgresPrevious: { major: string; image: string };
  monitoringImages: Record<"prometheus" | "alertmanager" | "blackbox" | "nodeExporter", string>;
  config: string;
}

export const LAB_DOMAIN = "lab.btw.test";

export async function labHome(lab: LabInfo, opts: { servers?: string[]; env?: Record<string, string> } = {}): Promise<BtwHome> {
  const home = tempHome(opts.env);
  const init = await home.run(["init", "--domain", LAB_DOMAIN, "--tls", "off", "--timezone", "Europe/Paris", "--merge", lab.config]);
  expect(init.code, init.stderr).toBe(0);
  for (const s of lab.servers.filter((x) => !opts.servers || opts.servers.includes(x.name))) {
    const r = await home.run(["server", "add", s.name, "--host", s.host, "--port", String(s.port), "--user", s.user, "--ssh-key", s.sshKey, "--capacity", "12"]);
    expect(r.code, r.stderr).toBe(0);
  }
  return home;
}

/**
 * ssh's options for a lab VM (test plumbing, not btw's SSH): the lab key, no host key pinning,
 * and one shared connection per VM (ControlMaster, kept 60 s idle). A fresh connection costs
 * ~230 ms of CPU on this machine (both ends: key exchange, sshd's session and auth
 * processes), a multiplexed session ~55 ms, and the suite makes thousands of these calls.
 */
export function labSshArgs(s: LabServer, opts: { mux?: boolean } = {}): string[] {
  const base = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", s.sshKey, "-p", String(s.port)];
  if (opts.mux === false) return [...base, "-o", "ControlMaster=no", "-o", "ControlPath=none"];
  // %C: a hash of host, port and user; a short directory keeps the socket path well within sun_path
  return [...base, "-o", "ControlMaster=auto", "-o", `ControlPath=${LAB_SSH_CONTROL_DIR}/%C`, "-o", "ControlPersist=60s"];
}

const LAB_SSH_CONTROL_DIR = `/tmp/btw-lab-ssh-${process.getuid?.() ?? 0}`;
mkdirSync(LAB_SSH_CONTROL_DIR, { recursive: true, mode: 0o700 });

/** ssh's own failures of a shared connection (a master gone with its VM's TCP state), not the command's. */
const MUX_FAILURE = /mux_client|control socket|ControlSocket|master (is )?(dead|refused)|Session open refused|Connection (closed|reset) by|Broken pipe/i;

/** Runs argv on a lab VM as root with the lab key (test plumbing, not btw's SSH). */
export async function onVm(s: LabServer, argv: string[], input?: string, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const { shellJoin } = await import("../../src/core/shell.js");
  const once = (mux: boolean) => execa("ssh", [...labSshArgs(s, { mux }), `${s.user}@${s.host}`, shellJoin(argv)], { reject: false, input: input ?? "", timeout: timeoutMs });
  let r = await once(true);
  // the shared connection failed, not the command (ssh exits 255): once more on a fresh one
  if (r.exitCode === 255 && MUX_FAILURE.test(r.stderr)) r = await once(false);
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The metrics token guarding a tenant's path on a server's proxy, from the btw state's own
 * metrics file that routes it (sites/<state id>.metrics), with that file's path.
 */
export async function proxyMetricsToken(s: LabServer, slug: string): Promise<{ file: string; token: string | undefined }> {
  const file = (await onVm(s, ["sh", "-c", 'grep -l -F "/tenants/$2/metrics" "$1"/*.metrics', "sh", "/opt/btw/proxy/conf/sites", slug])).stdout.trim();
  const token = file ? /Authorization "Bearer ([0-9a-f]{64})"/.exec((await onVm(s, ["cat", file])).stdout)?.[1] : undefined;
  return { file, token };
}

/** An HTTP request to a lab VM's proxy with a tenant's Host header. */
export async function viaProxy(s: LabServer, host: string, path = "/healthz"): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request({ host: s.host, port: 80, path, headers: { Host: host }, timeout: 15_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}
