// Terraform's failures as one line that says what to do. The inputs are what Terraform 1.11
// printed here (no registry access), captured verbatim.
import { describe, expect, it } from "vitest";
import { classifyTerraformFailure, firstError } from "../../../src/core/infra/terraform-errors.js";

const REGISTRY_UNREACHABLE = `There are some problems with the CLI configuration:
╷
│ Warning: Unable to open CLI configuration file
│
│ The CLI configuration file at "/root/.terraformrc" does not exist.
╵


Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider
hetznercloud/hcloud: could not connect to registry.terraform.io: failed to
request discovery document: Get
"https://registry.terraform.io/.well-known/terraform.json": proxyconnect tcp:
dial tcp 127.0.0.1:9: connect: connection refused

To see which modules are currently depending on hetznercloud/hcloud and what
versions are specified, run the following command:
    terraform providers
`;

const NOT_IN_MIRROR = `Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider
hetznercloud/hcloud: provider registry.terraform.io/hetznercloud/hcloud was
not found in any of the search locations

  - /srv/providers
`;

const ctx = { binary: "terraform", verb: "init", provider: "hetznercloud/hcloud" };

describe("classifyTerraformFailure", () => {
  it("turns the unreachable registry into one line naming terraform.providerMirror", () => {
    const f = classifyTerraformFailure(REGISTRY_UNREACHABLE, ctx);
    expect(f).toEqual({
      kind: "config",
      code: "provider-registry-unreachable",
      message: "terraform cannot download the provider hetznercloud/hcloud: registry.terraform.io is not reachable from this host (terraform.providerMirror is not set)",
      hint: expect.stringContaining("terraform providers mirror <dir>"),
    });
    expect(f.message).not.toContain("\n");
  });

  it("says the mirror lacks the provider when one is configured", () => {
    const f = classifyTerraformFailure(NOT_IN_MIRROR, { ...ctx, providerMirror: "/srv/providers" });
    expect(f.code).toBe("provider-mirror-incomplete");
    expect(f.message).toBe("hetznercloud/hcloud is not in terraform.providerMirror (/srv/providers) for this platform and version constraint");
  });

  it("names OpenTofu's registry and binary for tofu", () => {
    const f = classifyTerraformFailure("Error: Failed to query available provider packages\n\ncould not connect to registry.opentofu.org: failed to request discovery document", {
      ...ctx,
      binary: "tofu",
    });
    expect(f.message).toBe("tofu cannot download the provider hetznercloud/hcloud: registry.opentofu.org is not reachable from this host (terraform.providerMirror is not set)");
  });

  it("a held state lock is 'busy'", () => {
    expect(classifyTerraformFailure("Error: Error acquiring the state lock\n\nLock Info: …", { ...ctx, verb: "plan" }).kind).toBe("busy");
  });

  it("a rejected token says which variable to set", () => {
    const f = classifyTerraformFailure("Error: unable to authenticate your API token (unauthorized, 401)", { ...ctx, verb: "plan" });
    expect(f.code).toBe("hcloud-unauthorized");
    expect(f.hint).toContain("HCLOUD_TOKEN");
  });

  it("anything else: the first Error line and its sentence", () => {
    const f = classifyTerraformFailure("Error: Invalid resource type\n\n  on cdk.tf.json line 3:\n  3: …\n\nThe provider does not support hcloud_servr.\n", { ...ctx, verb: "plan" });
    expect(f).toEqual({
      kind: "operation",
      code: "terraform-plan-failed",
      message: "terraform plan failed: Invalid resource type: on cdk.tf.json line 3: 3: …",
      hint: "re-run with --verbose to see Terraform's full output",
    });
  });
});

describe("firstError", () => {
  it("reads boxed diagnostics too", () => {
    expect(firstError("╷\n│ Error: Backend configuration changed\n│\n│ A change in the backend configuration has been detected\n╵")).toBe(
      "Backend configuration changed: A change in the backend configuration has been detected",
    );
  });
});
