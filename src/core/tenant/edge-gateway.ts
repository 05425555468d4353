import { formatIpv4, parseCidr } from "../subnets.js";
import { splitTenantSubnet } from "./env.js";

/**
 * The gateway of a tenant's edge network, as a /32 (Docker gives a subnet without one its
 * first address): the source address of requests Docker masquerades into that network from
 * another of the host's networks — Prometheus on a server that also runs tenants.
 */
export function edgeGateway(subnet: string): string {
  const edge = parseCidr(splitTenantSubnet(subnet).edge);
  return `${formatIpv4(edge.base + 1)}/32`;
}
