import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { renderUserData } from "../../../src/core/infra/cloud-init.js";
import { readAsset } from "./fixtures.js";

describe("renderUserData", () => {
  const text = renderUserData({
    base: readAsset("templates/cloud-init/cloud-config.yml"),
    script: "#!/bin/sh\necho hi\n",
    scriptArgs: ["--insecure-registry", "172.29.0.1:5000"],
    files: [{ path: "/opt/btw/x", content: "a: 1\n", permissions: "0600" }],
    commands: [["docker", "compose", "up"]],
  });

  it("starts with #cloud-config and keeps the template's keys", () => {
    expect(text.split("\n")[0]).toBe("#cloud-config");
    expect(parse(text)).toMatchObject({ ssh_pwauth: false, package_update: false, package_upgrade: false });
  });

  it("writes the script first, runs it with its arguments, then the commands — each as argv, no shell", () => {
    const doc = parse(text);
    expect(doc.write_files).toEqual([
      { path: "/opt/btw/bin/bootstrap.sh", permissions: "0755", owner: "root:root", content: "#!/bin/sh\necho hi\n" },
      { path: "/opt/btw/x", permissions: "0600", owner: "root:root", content: "a: 1\n" },
    ]);
    expect(doc.runcmd).toEqual([["/opt/btw/bin/bootstrap.sh", "--insecure-registry", "172.29.0.1:5000"], ["docker", "compose", "up"]]);
  });
});
