// `server bootstrap`: the remote argv and the reading of what the script reports.
import { describe, expect, it } from "vitest";
import {
  bootstrapCommand,
  bootstrapScriptArgs,
  cloudInitWait,
  containerRunning,
  firstBootOutcome,
  parseBootstrapOutput,
  requireBootstrapped,
} from "../../../src/core/infra/bootstrap.js";

describe("bootstrap argv", () => {
  it("passes the config's registry and log rotation settings as the script's arguments", () => {
    expect(bootstrapScriptArgs({ insecureRegistries: ["172.29.0.1:5000", "reg.lab"], logMaxSize: "20m", logMaxFiles: 5 })).toEqual([
      "--insecure-registry", "172.29.0.1:5000", "--insecure-registry", "reg.lab", "--log-max-size", "20m", "--log-max-file", "5",
    ]);
  });

  it("reads the script from stdin as root, through sudo -n otherwise", () => {
    expect(bootstrapCommand("root", ["--log-max-file", "3"])).toEqual(["sh", "-s", "--", "--log-max-file", "3"]);
    expect(bootstrapCommand("deploy", [])).toEqual(["sudo", "-n", "sh", "-s", "--"]);
  });

  it("waits for cloud-init and inspects the proxy", () => {
    expect(cloudInitWait("root")).toEqual(["cloud-init", "status", "--wait"]);
    expect(cloudInitWait("deploy")).toEqual(["sudo", "-n", "cloud-init", "status", "--wait"]);
    expect(containerRunning("btw-proxy")).toEqual(["docker", "inspect", "--format", "{{.State.Running}}", "btw-proxy"]);
    expect([0, 1, 2, 127].map(firstBootOutcome)).toEqual(["done", "done-with-errors", "done-with-errors", "no-cloud-init"]);
  });
});

describe("parseBootstrapOutput", () => {
  it("collects steps, what changed, and whether the script finished", () => {
    const r = parseBootstrapOutput(
      ["btw-step dirs ok /opt/btw", "noise from a package", "btw-step packages changed installed docker.io fail2ban", "btw-step docker-engine ok", "btw-done changed=1", ""].join("\n"),
    );
    expect(r).toEqual({
      steps: [
        { step: "dirs", status: "ok", detail: "/opt/btw" },
        { step: "packages", status: "changed", detail: "installed docker.io fail2ban" },
        { step: "docker-engine", status: "ok", detail: "" },
      ],
      changed: ["packages"],
      failure: null,
      done: true,
    });
  });

  it("a second run that changes nothing", () => {
    expect(parseBootstrapOutput("btw-step dirs ok\nbtw-step packages ok\nbtw-done changed=0\n").changed).toEqual([]);
  });
});

describe("requireBootstrapped", () => {
  it("the script's own reason becomes the error, with where to look", () => {
    const r = parseBootstrapOutput("btw-step dirs ok\nbtw-fail apt-get install docker.io failed (see /var/log/btw-bootstrap.log)\n");
    expect(() => requireBootstrapped("lab-bare", r, 1, "")).toThrowError(
      expect.objectContaining({ code: "bootstrap-failed", exitCode: 1, message: "bootstrap of lab-bare failed: apt-get install docker.io failed (see /var/log/btw-bootstrap.log)" }),
    );
  });

  it("a run cut short (no btw-done) is a failure even with exit 0", () => {
    expect(() => requireBootstrapped("s", parseBootstrapOutput("btw-step dirs ok\n"), 0, "")).toThrow(/stopped \(exit 0\)/);
    expect(() => requireBootstrapped("s", parseBootstrapOutput(""), 1, "sudo: a password is required\n")).toThrow(/stopped \(exit 1\): sudo: a password is required/);
  });
});
