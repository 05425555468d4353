import type { LabInfo, LabStatus } from "./lab.js";
import type { LabServer } from "./ssh.js";

// Human renderings for when --json is not given.

export function renderInfo(info: LabInfo): string {
  return [
    ...info.servers.map(renderServer),
    `registry  ${info.registry}`,
    ...Object.entries(info.images).map(([k, v]) => `image     ${k.padEnd(8)} ${v}`),
    `image     ${"n8n (previous)".padEnd(8)} ${info.n8nPrevious.image}`,
    `image     ${"postgres (previous)".padEnd(8)} ${info.postgresPrevious.image}`,
    ...Object.entries(info.monitoringImages).map(([k, v]) => `image     ${k.padEnd(8)} ${v}`),
    `config    ${info.config}`,
  ].join("\n");
}

export function renderServer(s: LabServer): string {
  return `server    ${s.name.padEnd(8)} ssh -i ${s.sshKey} -p ${s.port} ${s.user}@${s.host}`;
}

export function renderStatus(st: LabStatus): string {
  const yes = (b: boolean) => (b ? "yes" : "no");
  return [
    `home      ${st.home}`,
    `engine    ${st.engine ? "running" : "not running"}`,
    `network   ${st.network} ${st.subnet}`,
    `registry  ${st.registry.address} ${st.registry.running ? "running" : "stopped"}`,
    ...Object.entries(st.images).map(([k, v]) => `image     ${k.padEnd(11)} built=${yes(v.built)} ${v.ref}`),
    ...(st.servers.length
      ? st.servers.map((s) => `server    ${s.name.padEnd(8)} ${s.kind.padEnd(4)} ${s.host.padEnd(13)} ${s.running ? "running" : "stopped"}`)
      : ["server    (none)"]),
  ].join("\n");
}
