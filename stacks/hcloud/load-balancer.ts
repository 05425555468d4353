import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// Arguments as the provider documents them (docs/resources/load_balancer*.md, v1.68):
// resource "hcloud_load_balancer": name, load_balancer_type, location | network_zone,
//   algorithm {type}, labels, delete_protection. Exports id, ipv4, ipv6, network_ip.
// resource "hcloud_load_balancer_network": load_balancer_id, subnet_id | network_id, ip,
//   enable_public_interface.
// resource "hcloud_load_balancer_service": load_balancer_id, protocol (http|https|tcp),
//   listen_port, destination_port, proxyprotocol, blocks http {sticky_sessions, cookie_name,
//   cookie_lifetime, certificates, redirect_http, timeout_idle} and health_check {protocol,
//   port, interval, timeout, retries, http {domain, path, response, tls, status_codes}}.
// resource "hcloud_load_balancer_target": type (server|label_selector|ip), load_balancer_id,
//   server_id, label_selector, ip, use_private_ip.

export interface LoadBalancerConfig extends TerraformMetaArguments {
  name: string;
  loadBalancerType: string;
  location?: string;
  networkZone?: string;
  algorithm?: "round_robin" | "least_connections";
  labels?: Labels;
  deleteProtection?: boolean;
}

export class LoadBalancer extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: LoadBalancerConfig,
  ) {
    super(scope, id, "hcloud_load_balancer", metaArguments(config));
  }

  get ipv4(): string {
    return this.getStringAttribute("ipv4");
  }

  get ipv6(): string {
    return this.getStringAttribute("ipv6");
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: c.name,
      load_balancer_type: c.loadBalancerType,
      location: c.location,
      network_zone: c.networkZone,
      algorithm: c.algorithm ? [{ type: c.algorithm }] : undefined,
      labels: c.labels,
      delete_protection: c.deleteProtection,
    };
  }
}

export interface LoadBalancerNetworkConfig extends TerraformMetaArguments {
  loadBalancerId: number;
  subnetId?: string;
  networkId?: number;
  ip?: string;
  enablePublicInterface?: boolean;
}

export class LoadBalancerNetwork extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: LoadBalancerNetworkConfig,
  ) {
    super(scope, id, "hcloud_load_balancer_network", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { load_balancer_id: c.loadBalancerId, subnet_id: c.subnetId, network_id: c.networkId, ip: c.ip, enable_public_interface: c.enablePublicInterface };
  }
}

export interface LoadBalancerHealthCheck {
  protocol: "http" | "tcp";
  port: number;
  interval: number;
  timeout: number;
  retries: number;
  http?: { domain?: string; path?: string; response?: string; tls?: boolean; statusCodes?: string[] };
}

export interface LoadBalancerServiceConfig extends TerraformMetaArguments {
  loadBalancerId: number;
  protocol: "http" | "https" | "tcp";
  listenPort?: number;
  destinationPort?: number;
  proxyprotocol?: boolean;
  http?: { stickySessions?: boolean; cookieName?: string; cookieLifetime?: number; certificates?: number[]; redirectHttp?: boolean; timeoutIdle?: number };
  healthCheck?: LoadBalancerHealthCheck;
}

export class LoadBalancerService extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: LoadBalancerServiceConfig,
  ) {
    super(scope, id, "hcloud_load_balancer_service", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    const h = c.healthCheck;
    return {
      load_balancer_id: c.loadBalancerId,
      protocol: c.protocol,
      listen_port: c.listenPort,
      destination_port: c.destinationPort,
      proxyprotocol: c.proxyprotocol,
      http: c.http
        ? [
            {
              sticky_sessions: c.http.stickySessions,
              cookie_name: c.http.cookieName,
              cookie_lifetime: c.http.cookieLifetime,
              certificates: c.http.certificates,
              redirect_http: c.http.redirectHttp,
              timeout_idle: c.http.timeoutIdle,
            },
          ]
        : undefined,
      health_check: h
        ? [
            {
              protocol: h.protocol,
              port: h.port,
              interval: h.interval,
              timeout: h.timeout,
              retries: h.retries,
              http: h.http ? [{ domain: h.http.domain, path: h.http.path, response: h.http.response, tls: h.http.tls, status_codes: h.http.statusCodes }] : undefined,
            },
          ]
        : undefined,
    };
  }
}

export interface LoadBalancerTargetConfig extends TerraformMetaArguments {
  type: "server" | "label_selector" | "ip";
  loadBalancerId: number;
  serverId?: number;
  labelSelector?: string;
  ip?: string;
  /** only for server and label_selector targets; the load balancer must be on the network */
  usePrivateIp?: boolean;
}

export class LoadBalancerTarget extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: LoadBalancerTargetConfig,
  ) {
    super(scope, id, "hcloud_load_balancer_target", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { type: c.type, load_balancer_id: c.loadBalancerId, server_id: c.serverId, label_selector: c.labelSelector, ip: c.ip, use_private_ip: c.usePrivateIp };
  }
}
