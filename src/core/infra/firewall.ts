// The platform firewall's inbound rules, from the config. Hetzner firewalls are default-deny
// for inbound traffic once applied: whatever is not listed here is closed.

export interface FirewallRule {
  direction: "in";
  protocol: "tcp" | "udp";
  /** a port ("22") or a range ("9100-9110") */
  port: string;
  sourceIps: string[];
  description: string;
}

export const ANYWHERE = ["0.0.0.0/0", "::/0"] as const;

export interface FirewallInput {
  adminCidrs: readonly string[];
  /** the private network's range */
  networkRange: string;
  metricsPorts: readonly string[];
  /** proxy.mode: in edge mode the load balancer is the only public HTTP(S) listener */
  mode?: "direct" | "edge";
}

export function firewallRules(input: FirewallInput): FirewallRule[] {
  const web: FirewallRule[] =
    input.mode === "edge"
      ? // Behind the edge nothing serves HTTP(S) publicly: the load balancer reaches the edge
        // proxies, and they the tenant servers, over the private network. No public rule: the
        // ports are closed to the internet; this one states where HTTP comes from.
        [{ direction: "in", protocol: "tcp", port: "80", sourceIps: [input.networkRange], description: "HTTP from the private network (load balancer, edge proxies)" }]
      : [
          { direction: "in", protocol: "tcp", port: "80", sourceIps: [...ANYWHERE], description: "HTTP (ACME challenges, redirect to HTTPS)" },
          { direction: "in", protocol: "tcp", port: "443", sourceIps: [...ANYWHERE], description: "HTTPS" },
          { direction: "in", protocol: "udp", port: "443", sourceIps: [...ANYWHERE], description: "HTTP/3 (the proxy publishes 443/udp)" },
        ];
  return [
    { direction: "in", protocol: "tcp", port: "22", sourceIps: [...input.adminCidrs], description: "SSH from the operator's networks" },
    ...web,
    // Hetzner firewalls filter public interfaces only; private-network traffic never passes
    // them. These rules state the intent (metrics come from the private range) and keep the
    // ports closed on the public side: no public source matches a private range.
    ...input.metricsPorts.map(
      (port): FirewallRule => ({ direction: "in", protocol: "tcp", port, sourceIps: [input.networkRange], description: `metrics ${port} from the private network` }),
    ),
  ];
}
