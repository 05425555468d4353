import { describe, expect, it } from "vitest";
import {
  fingerprintStdinArgs,
  forgetHostKeyArgs,
  keyscanArgs,
  knownHostsName,
  parseFingerprints,
  pinnedFingerprintsArgs,
} from "../../../../src/core/commands/known-hosts.js";

describe("known_hosts builders", () => {
  it("names port 22 bare and other ports in [host]:port form", () => {
    expect(knownHostsName("10.0.0.5", 22)).toBe("10.0.0.5");
    expect(knownHostsName("10.0.0.5", 2222)).toBe("[10.0.0.5]:2222");
  });

  it("forgets with ssh-keygen -R in the btw file", () => {
    expect(forgetHostKeyArgs("/home/op/.btw/known_hosts", "lab.example", 2222)).toEqual([
      "ssh-keygen", "-R", "[lab.example]:2222", "-f", "/home/op/.btw/known_hosts",
    ]);
  });

  it("lists pinned fingerprints with ssh-keygen -l -F", () => {
    expect(pinnedFingerprintsArgs("/k", "h", 22)).toEqual(["ssh-keygen", "-l", "-E", "sha256", "-F", "h", "-f", "/k"]);
  });

  it("scans with a timeout and -- before the host", () => {
    expect(keyscanArgs("127.0.0.1", 2200)).toEqual(["ssh-keyscan", "-T", "5", "-p", "2200", "--", "127.0.0.1"]);
    expect(fingerprintStdinArgs()).toEqual(["ssh-keygen", "-l", "-E", "sha256", "-f", "-"]);
  });
});

describe("parseFingerprints", () => {
  it("reads ssh-keygen -l -F output, skipping the comment line", () => {
    const out = "# Host [127.0.0.1]:37399 found: line 1 \n[127.0.0.1]:37399 ED25519 SHA256:Fz54Mo2akp/rV3nDmfQFZwvSIC+23Rw0hqWQnyGXY2A\n";
    expect(parseFingerprints(out)).toEqual([{ type: "ED25519", fingerprint: "SHA256:Fz54Mo2akp/rV3nDmfQFZwvSIC+23Rw0hqWQnyGXY2A" }]);
  });

  it("reads ssh-keygen -l -f output", () => {
    const out = "256 SHA256:abc+/= [127.0.0.1]:37399 (ED25519)\n3072 SHA256:def [127.0.0.1]:37399 (RSA)\n";
    expect(parseFingerprints(out)).toEqual([
      { type: "ED25519", fingerprint: "SHA256:abc+/=" },
      { type: "RSA", fingerprint: "SHA256:def" },
    ]);
  });

  it("returns nothing for empty output", () => {
    expect(parseFingerprints("")).toEqual([]);
  });
});
