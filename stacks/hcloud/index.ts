// Hand-written cdktn bindings for the hcloud resources btw uses (HCLOUD facts:
// no prebuilt bindings exist). Each class maps camelCase config to the provider's own
// snake_case argument names; blocks are arrays.
export { HcloudProvider, HCLOUD_SOURCE, type HcloudProviderConfig } from "./provider.js";
export { HcloudResource, type Labels } from "./resource.js";
export { Server, type ServerConfig, type ServerNetwork, type ServerPublicNet } from "./server.js";
export { SshKey, type SshKeyConfig } from "./ssh-key.js";
export { Firewall, FirewallAttachment, type FirewallApplyTo, type FirewallAttachmentConfig, type FirewallConfig, type FirewallRuleBlock } from "./firewall.js";
export { Network, NetworkSubnet, type NetworkConfig, type NetworkSubnetConfig, type NetworkZone, type SubnetType } from "./network.js";
export { PlacementGroup, type PlacementGroupConfig } from "./placement-group.js";
export {
  LoadBalancer,
  LoadBalancerNetwork,
  LoadBalancerService,
  LoadBalancerTarget,
  type LoadBalancerConfig,
  type LoadBalancerHealthCheck,
  type LoadBalancerNetworkConfig,
  type LoadBalancerServiceConfig,
  type LoadBalancerTargetConfig,
} from "./load-balancer.js";
export { ManagedCertificate, type ManagedCertificateConfig } from "./managed-certificate.js";
export { Zone, ZoneRrset, type ZoneConfig, type ZoneRrsetConfig } from "./zone.js";
