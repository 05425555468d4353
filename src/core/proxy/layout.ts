// The proxy's names on a server, in one place (templates/proxy/compose.yml uses the same).

export const PROXY_DIR = "/opt/btw/proxy";

export const PROXY_LAYOUT = {
  dir: PROXY_DIR,
  composeFile: `${PROXY_DIR}/compose.yml`,
  envFile: `${PROXY_DIR}/.env`,
  /** mounted read-only at /etc/caddy in the container */
  confDir: `${PROXY_DIR}/conf`,
  caddyfile: `${PROXY_DIR}/conf/Caddyfile`,
  /** where a candidate Caddyfile is written and validated before it replaces the live one */
  caddyfileNext: `${PROXY_DIR}/conf/Caddyfile.next`,
  project: "btw-proxy",
  /** the private listener serving /tenants/<name>/metrics (published on the private address only) */
  metricsPort: 9180,
  container: "btw-proxy",
  network: "btw-proxy",
  volumes: { data: "btw-proxy-data", config: "btw-proxy-config" },
  /** the same files as seen inside the container */
  inContainer: { caddyfile: "/etc/caddy/Caddyfile", caddyfileNext: "/etc/caddy/Caddyfile.next" },
} as const;
