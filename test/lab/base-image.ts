import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { LabConfig } from "./config.js";
import { labPaths } from "./config.js";
import { say, timed } from "./log.js";
import { run } from "./run.js";

// Files written into the rootfs before it is packed: what the official Debian images set
// so package installs in `docker build` behave (no service starts, no recommends, lean).
export const ROOTFS_TWEAKS: Record<string, string> = {
  "usr/sbin/policy-rc.d": "#!/bin/sh\n# no service starts inside image builds\nexit 101\n",
  "etc/apt/apt.conf.d/90btw-lab":
    'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\n',
  "etc/dpkg/dpkg.cfg.d/90btw-lab":
    "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n",
};

/** The debootstrap minbase rootfs as a tarball, cached in the lab home (~25 s to make). */
export async function ensureRootfsTar(cfg: LabConfig, rebuild: boolean, suite: string = cfg.suite): Promise<string> {
  const tar = labPaths(cfg).rootfsTarOf(suite);
  if (existsSync(tar) && !rebuild) return tar;
  mkdirSync(labPaths(cfg).cacheDir, { recursive: true });
  const dir = mkdtempSync(join(labPaths(cfg).cacheDir, "rootfs-"));
  try {
    await timed(`debootstrap ${suite} minbase`, () =>
      run("debootstrap", ["--variant=minbase", suite, dir, cfg.debianMirror], { timeoutMs: 600_000 }),
    );
    for (const [rel, text] of Object.entries(ROOTFS_TWEAKS)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text, { mode: rel.includes("sbin") ? 0o755 : 0o644 });
    }
    // Package lists and downloaded .debs are stale the moment the image is used.
    for (const sub of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
      await run("find", [join(dir, sub), "-mindepth", "1", "-type", "f", "-delete"]);
    }
    const partial = `${tar}.partial`;
    await run("tar", ["-C", dir, "--numeric-owner", "-cf", partial, "."]);
    renameSync(partial, tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  say(`rootfs cached at ${tar}`);
  return tar;
}

/** `docker import` of the rootfs, with the environment a Debian image normally has. */
export async function importBase(tar: string, tag: string, recipe: string): Promise<void> {
  await run("docker", [
    "import",
    "--change", 'CMD ["/bin/bash"]',
    "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "--change", "ENV LANG=C.UTF-8",
    "--change", `LABEL btw-lab.recipe=${recipe}`,
    tar,
    tag,
  ]);
}
