import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nameProblem, TENANT_NAME } from "../../../src/core/names.js";
import { isPgdataVolumeOf, requireTenantSlug, tenantLayout } from "../../../src/core/tenant/layout.js";
import { packageRoot } from "../../../src/package-root.js";

// A tenant is the Compose project btw-<slug> (containers, networks, volumes btw-<slug>-…) in
// /opt/btw/tenants/<slug>. btw's own stacks share the btw- prefix, so a tenant named after
// one would be handed btw's own project (`tenant create exporters` took over the monitoring
// exporters: issue 22). The names are found where they are written (sources and templates),
// not copied here, so a stack added later is checked without anyone updating this file.

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p, ext);
    return e.name.endsWith(ext) ? [p] : [];
  });
}

const root = packageRoot();
const sources = filesUnder(path.join(root, "src"), ".ts").map((f) => readFileSync(f, "utf8"));
const templates = filesUnder(path.join(root, "templates"), ".yml").map((f) => readFileSync(f, "utf8"));

const all = (texts: string[], re: RegExp): string[] => [...new Set(texts.flatMap((t) => [...t.matchAll(re)].map((m) => m[1]!)))].sort();

const found = {
  projects: [
    ...new Set([
      ...all(sources, /(?:\bproject:\s*|_PROJECT\s*=\s*|"-p",\s*)"(btw-[a-z0-9-]+)"/g),
      ...all(templates, /\s-p\s+(btw-[a-z0-9-]+)\b/g),
    ]),
  ].sort(),
  containers: all(templates, /^\s*container_name:\s*(btw-[a-z0-9-]+)\s*$/gm),
  /** networks' and volumes' `name:` (the tenant template's hold ${TENANT} and do not match) */
  networksAndVolumes: all(templates, /^\s+name:\s*(btw-[a-z0-9-]+)\s*$/gm),
  dirs: all([...sources, ...templates], /\/opt\/btw\/([a-z0-9_.-]+)/g),
};

/** The valid tenant names whose btw-<slug>… names could spell `name`: its rest's hyphen-prefixes. */
function slugsThatCouldMake(name: string): string[] {
  const parts = name.slice("btw-".length).split("-");
  return parts.map((_, i) => parts.slice(0, i + 1).join("-")).filter((s) => nameProblem(s, TENANT_NAME) === null);
}

describe("btw's own names on a server are no tenant's", () => {
  it("finds btw's stacks where they are written (a scan that finds nothing proves nothing)", () => {
    expect(found.projects).toEqual(expect.arrayContaining(["btw-proxy", "btw-exporters", "btw-monitoring"]));
    expect(found.containers).toEqual(expect.arrayContaining(["btw-proxy", "btw-exporters-node", "btw-monitoring-prometheus"]));
    expect(found.networksAndVolumes).toEqual(expect.arrayContaining(["btw--proxy", "btw-proxy-data"]));
    expect(found.dirs).toEqual(expect.arrayContaining(["proxy", "exporters", "monitoring", "isolation", "tenants"]));
  });

  it("no tenant name gives a tenant one of btw's own Compose projects", () => {
    for (const project of found.projects) {
      for (const slug of slugsThatCouldMake(project)) expect(tenantLayout(slug).project, `tenant ${slug}`).not.toBe(project);
    }
  });

  it("no tenant name gives a tenant's container the name of one of btw's own", () => {
    for (const c of found.containers) {
      for (const slug of slugsThatCouldMake(c)) expect(Object.values(tenantLayout(slug).containers), `tenant ${slug}`).not.toContain(c);
    }
  });

  it("no tenant name gives a tenant's network or volume the name of one of btw's own", () => {
    for (const n of found.networksAndVolumes) {
      for (const slug of slugsThatCouldMake(n)) {
        const l = tenantLayout(slug);
        expect([...Object.values(l.networks), ...Object.values(l.volumes)], `tenant ${slug}`).not.toContain(n);
        expect(isPgdataVolumeOf(slug, n), `tenant ${slug}`).toBe(false);
      }
    }
  });

  it("refuses, as a tenant name, the name of every directory btw keeps under /opt/btw", () => {
    for (const d of found.dirs) expect(nameProblem(d, TENANT_NAME), `/opt/btw/${d}`).not.toBeNull();
  });

  it("refuses `exporters` in one line that says whose name it is", () => {
    expect(nameProblem("exporters", TENANT_NAME)).toBe(`tenant name "exporters" is reserved (btw's own Compose project btw-exporters); choose another`);
  });

  it("refuses a backup verify's scratch name (vfy-<8 hex>): a verify would run in the tenant's project", () => {
    expect(nameProblem("vfy-0123abcd", TENANT_NAME)).toMatch(/reserved \(backup verify's scratch stacks\)/);
    expect(nameProblem("vfy-team", TENANT_NAME)).toBeNull();
    // the scratch stack itself still gets its layout
    expect(requireTenantSlug("vfy-0123abcd")).toBe("vfy-0123abcd");
  });
});
