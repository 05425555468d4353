// A server address as typed by the operator: a DNS name, an IPv4 or an IPv6 address.
// It reaches ssh's argv, so it is checked strictly here (a leading '-' would be an option).

export function hostProblem(host: string): string | null {
  if (host === "") return "--host must not be empty";
  if (host.startsWith("-")) return `--host ${JSON.stringify(host)} must not start with '-'`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return host.split(".").every((o) => Number(o) <= 255) ? null : `--host ${host} is not a valid IPv4 address`;
  }
  if (host.includes(":")) return /^[0-9a-f:.]+$/i.test(host) ? null : `--host ${JSON.stringify(host)} is not a valid IPv6 address`;
  if (/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(host)) return null;
  return `--host ${JSON.stringify(host)} is not a host name or IP address`;
}
