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
}

export function firewallRules(input: FirewallInput): FirewallRule[] {
  return [
    { direction: "in", protocol: "tcp", port: "22", sourceIps: [...input.adminCidrs], description: "SSH from the operator's networks" },
    { direction: "in", protocol: "tcp", port: "80", sourceIps: [...ANYWHERE], description: "HTTP (ACME challenges, redirect to HTTPS)" },
    { direction: "in", protocol: "tcp", port: "443", sourceIps: [...ANYWHERE], description: "HTTPS" },
    { direction: "in", protocol: "udp", port: "443", sourceIps: [...ANYWHERE], description: "HTTP/3 (the proxy publishes 443/udp)" },
    // Hetzner firewalls filter public interfaces only; private-network traffic never passes
    // them. These rules state the intent (metrics come from the private range) and keep the
    // ports closed on the public side: no public source matches a private range.
    ...input.metricsPorts.map(
      (port): FirewallRule => ({ direction: "in", protocol: "tcp", port, sourceIps: [input.networkRange], description: `metrics ${port} from the private network` }),
    ),
  ];
}
