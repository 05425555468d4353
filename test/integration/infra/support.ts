import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { tempHome, type BtwHome } from "../../support/cli.js";

// A btw home with a Hetzner section that synthesizes (admin CIDR, one operator key).
export const OPS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb7bWnJhZ0xkK6c3aZ0mQ9l1y2bHq8m1v0Zr3n5sTtU ops@laptop";

export async function infraHome(env: Record<string, string> = {}, extraYaml = ""): Promise<BtwHome> {
  const home = tempHome(env);
  const init = await home.run(["init", "--domain", "example.com"]);
  expect(init.code, init.stderr).toBe(0);
  appendFileSync(
    join(home.dir, "btw.yml"),
    ["hetzner:", "  servers: 2", '  adminCidrs: ["203.0.113.7/32"]', "  sshKeys:", "    - name: ops", `      publicKey: ${OPS_KEY}`, extraYaml, ""].join("\n"),
  );
  return home;
}

/**
 * Terraform reaches for registry.terraform.io: pointing HTTPS_PROXY at a closed loopback
 * port makes that fail at once, and no packet leaves this machine.
 */
export const OFFLINE = { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", NO_PROXY: "" };
