import { describe, expect, it } from "vitest";
import {
  caddyReload,
  caddyValidate,
  isAlreadyConnected,
  isNotConnected,
  proxyComposeConfigCheck,
  proxyComposeDown,
  proxyComposePs,
  proxyComposeUp,
  proxyConnectTenant,
  proxyDisconnectTenant,
} from "../../../src/core/commands/proxy.js";
import { publishHost, renderProxyEnv } from "../../../src/core/proxy/env.js";
import { PROXY_LAYOUT } from "../../../src/core/proxy/layout.js";
import { UsageError } from "../../../src/errors.js";

const BASE = ["docker", "compose", "-p", "btw-proxy", "--project-directory", "/opt/btw/proxy", "-f", "/opt/btw/proxy/compose.yml", "--env-file", "/opt/btw/proxy/.env"];

describe("proxy compose", () => {
  it("up, down, ps, config", () => {
    expect(proxyComposeUp()).toEqual([...BASE, "up", "-d", "--remove-orphans"]);
    expect(proxyComposeUp({ wait: true })).toEqual([...BASE, "up", "-d", "--remove-orphans", "--wait"]);
    expect(proxyComposeDown({ volumes: false })).toEqual([...BASE, "down", "--remove-orphans"]);
    expect(proxyComposeDown({ volumes: true })).toEqual([...BASE, "down", "--remove-orphans", "--volumes"]);
    expect(proxyComposePs()).toEqual([...BASE, "ps", "--all", "--format", "json"]);
    expect(proxyComposeConfigCheck()).toEqual([...BASE, "config", "--quiet"]);
  });

  it("layout: the Caddyfile lives in the mounted conf directory", () => {
    expect([PROXY_LAYOUT.caddyfile, PROXY_LAYOUT.caddyfileNext, PROXY_LAYOUT.inContainer]).toEqual([
      "/opt/btw/proxy/conf/Caddyfile",
      "/opt/btw/proxy/conf/Caddyfile.next",
      { confDir: "/etc/caddy", caddyfile: "/etc/caddy/Caddyfile", caddyfileNext: "/etc/caddy/Caddyfile.next" },
    ]);
  });
});

describe("edge networks", () => {
  it("connect and disconnect the proxy to a tenant's edge network", () => {
    expect(proxyConnectTenant("acme")).toEqual(["docker", "network", "connect", "btw-acme-edge", "btw-proxy"]);
    expect(proxyDisconnectTenant("acme")).toEqual(["docker", "network", "disconnect", "--force", "btw-acme-edge", "btw-proxy"]);
  });

  it("refuses a bad slug", () => {
    expect(() => proxyConnectTenant("--help")).toThrow(UsageError);
  });

  it("recognises the errors that mean the work is already done", () => {
    expect(isAlreadyConnected("Error response from daemon: endpoint with name btw-proxy already exists in network btw-acme-edge")).toBe(true);
    expect(isAlreadyConnected("Error response from daemon: container 3f2a is already attached to network btw-acme-edge")).toBe(true);
    expect(isAlreadyConnected("Error response from daemon: network btw-acme-edge not found")).toBe(false);
    expect(isNotConnected("Error response from daemon: container 3f2a is not connected to network btw-acme-edge")).toBe(true);
    expect(isNotConnected("Error response from daemon: container 3f2a is not connected to the network btw-acme-edge")).toBe(true);
    expect(isNotConnected("Error response from daemon: network btw-acme-edge not found")).toBe(true);
    expect(isNotConnected("Error: No such network: btw-acme-edge")).toBe(true);
    expect(isNotConnected("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")).toBe(false);
  });
});

describe("caddy", () => {
  it("reload: graceful, through the admin API inside the container", () => {
    expect(caddyReload()).toEqual(["docker", "exec", "btw-proxy", "caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
  });

  it("validate: the candidate by default, or a given file", () => {
    expect(caddyValidate()).toEqual(["docker", "exec", "btw-proxy", "caddy", "validate", "--config", "/etc/caddy/Caddyfile.next", "--adapter", "caddyfile"]);
    expect(caddyValidate("/etc/caddy/Caddyfile")).toEqual(["docker", "exec", "btw-proxy", "caddy", "validate", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
  });
});

describe("renderProxyEnv", () => {
  it("publishes 80/443 on every address in both proxy modes (behind the edge the firewall closes the public side); the metrics listener on the private address; a bad address refused", () => {
    const env = renderProxyEnv({ caddyImage: "caddy:2.10.2", metricsPublish: `${publishHost("10.0.1.11")}:9180` });
    expect(env).not.toContain("HTTP_PUBLISH");
    expect(env).toContain("METRICS_PUBLISH=10.0.1.11:9180\n");
    expect(publishHost("fd00::11")).toBe("[fd00::11]");
    for (const bad of ["0.0.0.0:80", "example.com", "10.0.1.11\nX=1", "300.1.1.1"]) expect(() => publishHost(bad)).toThrow(UsageError);
  });

  it("writes the image and default limits", () => {
    expect(renderProxyEnv({ caddyImage: "caddy:2.10.2" })).toBe(
      [
        "# btw proxy: values for compose.yml in this directory.",
        "# Written by btw from its config; edits are overwritten.",
        "",
        "# Image and limits",
        "CADDY_IMAGE=caddy:2.10.2",
        "CADDY_CPUS=1",
        "CADDY_MEMORY=512m",
        "CADDY_PIDS=512",
        "",
      ].join("\n"),
    );
  });

  it("takes other limits and refuses bad ones", () => {
    expect(renderProxyEnv({ caddyImage: "caddy:2.10.2", limits: { cpus: 0.5, memoryMb: 256, pids: 128 } })).toContain("CADDY_CPUS=0.5\nCADDY_MEMORY=256m\nCADDY_PIDS=128\n");
    expect(() => renderProxyEnv({ caddyImage: "caddy:2.10.2", limits: { cpus: 1, memoryMb: 256, pids: 0 } })).toThrow(UsageError);
  });
});
