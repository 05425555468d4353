// The settings a server's main Caddyfile is rendered from: the server's, never a state's
// tenants — every btw state sharing the server renders the same main file from the same config.

import type { Config } from "../../config/schema.js";
import { serverProxyTls } from "../edge/mode.js";
import type { MainCaddyfileInput } from "./caddyfile.js";
import { PROXY_LAYOUT } from "./layout.js";

/** serverProxyTls without what belongs to the sites (trusted proxies), plus the metrics listener's port. */
export function mainProxySettings(config: Pick<Config, "proxy" | "acmeEmail" | "hetzner" | "edge">): MainCaddyfileInput {
  const { tls, acmeEmail, edgePlainHttp } = serverProxyTls(config);
  return { tls, ...(acmeEmail !== undefined ? { acmeEmail } : {}), ...(edgePlainHttp !== undefined ? { edgePlainHttp } : {}), metricsPort: PROXY_LAYOUT.metricsPort };
}
