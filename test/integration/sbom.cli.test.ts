/**
 * `ocipatch sbom` end to end on real images: CycloneDX valid against the schema
 * (the CycloneDX library's strict JSON validator), packages and purls matching
 * dpkg-query and os-release of the umoci-unpacked image; json and table formats;
 * bad input reported as one-line warnings or errors.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { afterAll, describe, expect, it } from "vitest";
import type { CliContext } from "../../src/cli/context.js";
import { main } from "../../src/cli/main.js";
import { selectImage } from "../../src/image/select.js";
import { readInventory } from "../../src/inventory/index.js";
import { buildTar, type EntrySpec } from "../../src/rootfs/__tests__/synthetic.js";
import { buildSbom, toCycloneDxJson } from "../../src/sbom/index.js";
import { openOciLayout } from "../../src/transport/oci-layout/index.js";
import { type TestImageName, testImageLayout } from "./inventory.images.js";
import { dpkgQuery, shellOsRelease, unpackWithUmoci } from "./inventory.oracle.js";

function capture(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        f(String(chunk));
        cb();
      },
    });
  return {
    ctx: { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: {} },
    out: () => out,
    err: () => err,
  };
}

async function run(args: string[]) {
  const c = capture();
  const code = await main(args, c.ctx);
  return { code, stdout: c.out(), stderr: c.err() };
}

const scratch = mkdtempSync(join(tmpdir(), "ocipatch-sbom-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface CdxComponent {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  properties?: Array<{ name: string; value: string }>;
}

describe.each(["nginx-bullseye", "ubuntu-jammy", "distroless-bookworm"] as TestImageName[])(
  "ocipatch sbom on %s",
  (name) => {
    it("writes schema-valid CycloneDX whose packages and purls match the unpacked image", {
      timeout: 600_000,
    }, async (ctx) => {
      const t = await testImageLayout(name);
      if (!t) return ctx.skip(`test image ${name} is not available`);
      const r = await run(["sbom", "--image", `oci:${t.layoutDir}:${t.tag}`, "--format", "cyclonedx"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(r.stdout)).toBeNull();

      const bom = JSON.parse(r.stdout) as {
        specVersion: string;
        components: CdxComponent[];
        metadata: { component: CdxComponent };
      };
      expect(bom.specVersion).toBe("1.6");
      const u = unpackWithUmoci(t.layoutDir, t.tag);
      try {
        const os = shellOsRelease(u.rootfs);
        const rows = dpkgQuery(u.rootfs).filter((x) => x.status === "ii" || x.status === "hi");
        const libs = bom.components.filter((c) => c.type === "library");
        expect(libs.map((c) => `${c.name}=${c.version}`).sort()).toEqual(
          rows.map((x) => `${x.name}=${x.version}`).sort(),
        );
        const osc = bom.components.find((c) => c.type === "operating-system");
        expect([osc?.name, osc?.version]).toEqual([os.id, os.versionId]);
        for (const c of libs) {
          const row = rows.find((x) => x.name === c.name)!;
          const purl = new URL(c.purl!);
          expect(purl.protocol).toBe("pkg:");
          expect(decodeURIComponent(purl.pathname)).toBe(`deb/${os.id}/${row.name}@${row.version}`);
          expect(purl.searchParams.get("arch")).toBe(row.arch);
          expect(purl.searchParams.get("distro")).toBe(`${os.id}-${os.versionId}`);
          const upstream = purl.searchParams.get("upstream");
          const expectedUpstream =
            row.sourceName === row.name && row.sourceVersion === row.version
              ? null
              : row.sourceVersion === row.version
                ? row.sourceName
                : `${row.sourceName}@${row.sourceVersion}`;
          expect(upstream, c.purl).toBe(expectedUpstream);
        }
      } finally {
        u.cleanup();
      }
    });

    it("writes json and table formats, and to a file", { timeout: 600_000 }, async (ctx) => {
      const t = await testImageLayout(name);
      if (!t) return ctx.skip(`test image ${name} is not available`);
      const ref = `oci:${t.layoutDir}:${t.tag}`;
      const j = await run(["sbom", "-i", ref, "-f", "json"]);
      expect(j.code).toBe(0);
      const doc = JSON.parse(j.stdout) as {
        os: { id: string };
        distroless: boolean;
        packages: Array<{ name: string; purl: string }>;
      };
      expect(doc.distroless).toBe(name === "distroless-bookworm");
      const table = await run(["sbom", "-i", ref]);
      expect(table.code).toBe(0);
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toContain(ref);
      expect(lines[4]).toMatch(/^NAME\s+VERSION\s+SOURCE\s+SOURCE VERSION\s+ARCH\s+PURL$/);
      expect(lines.length - 5).toBe(doc.packages.length);
      const file = join(scratch, `${name}.cdx.json`);
      const f = await run(["sbom", "-i", ref, "-f", "cyclonedx", "-o", file]);
      expect(f.code).toBe(0);
      expect(f.stdout).toBe("");
      expect(f.stderr).toMatch(/^\[info\] wrote the cyclonedx SBOM of \d+ packages to /);
      expect((JSON.parse(readFileSync(file, "utf8")) as { components: unknown[] }).components.length).toBe(
        doc.packages.length + 1,
      );
    });
  },
);

describe("CycloneDX 1.5", () => {
  it("is valid against the 1.5 schema too", { timeout: 600_000 }, async (ctx) => {
    const t = await testImageLayout("debian-bookworm");
    if (!t) return ctx.skip("debian-bookworm is not available");
    const image = await selectImage(await openOciLayout(t.layoutDir, t.tag));
    const doc = buildSbom({ name: "debian:bookworm", digest: image.digest }, await readInventory(image));
    const json = toCycloneDxJson(doc, { specVersion: "1.5" });
    expect(JSON.parse(json).specVersion).toBe("1.5");
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot5).validate(json)).toBeNull();
  });
});

/** A one-layer OCI layout built with umoci from synthetic entries. */
async function layoutOf(entries: EntrySpec[]): Promise<string> {
  const dir = mkdtempSync(join(scratch, "layout-"));
  const tarFile = join(dir, "layer.tar");
  writeFileSync(tarFile, await buildTar(entries));
  const layout = join(dir, "oci");
  execFileSync("umoci", ["init", "--layout", layout]);
  execFileSync("umoci", ["new", "--image", `${layout}:t`]);
  execFileSync("umoci", ["raw", "add-layer", "--image", `${layout}:t`, tarFile]);
  return layout;
}

describe("ocipatch sbom with bad input", () => {
  it("warns about an unknown OS and a missing package database, and lists nothing", async () => {
    const layout = await layoutOf([{ name: "app/server", content: "ELF" }]);
    const r = await run(["sbom", "-i", `oci:${layout}:t`, "-f", "json"]);
    expect(r.code).toBe(0);
    const warnings = r.stderr.trimEnd().split("\n");
    expect(warnings[0]).toMatch(/^\[warning\] .*cannot identify the OS/);
    expect(warnings[1]).toMatch(/^\[warning\] .*no package database found/);
    expect(JSON.parse(r.stdout)).toMatchObject({
      os: { id: "unknown" },
      packageManager: "none",
      packages: [],
    });
  });

  it("skips malformed status records with a warning naming file and line", async () => {
    const status = [
      "Package: good\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n",
      "Package: broken\nStatus: install ok installed\nthis is not a field\nVersion: 2\n",
      "Package: alsogood\nStatus: install ok installed\nVersion: 1:2.0~rc1-3\nArchitecture: all\nSource: src (2.0~rc1-3)\n",
    ].join("\n");
    const layout = await layoutOf([
      { name: "etc/os-release", content: 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' },
      { name: "var/lib/dpkg/status", content: status },
    ]);
    const r = await run(["sbom", "-i", `oci:${layout}:t`, "-f", "json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      '[warning] /var/lib/dpkg/status:8: malformed line "this is not a field": malformed record skipped\n',
    );
    const doc = JSON.parse(r.stdout) as {
      packages: Array<{ name: string; purl: string }>;
      distroless: boolean;
    };
    expect(doc.packages.map((p) => p.purl)).toEqual([
      "pkg:deb/debian/alsogood@1:2.0~rc1-3?arch=all&distro=debian-12&upstream=src%402.0~rc1-3",
      "pkg:deb/debian/good@1.0-1?arch=amd64&distro=debian-12",
    ]);
    expect(doc.distroless).toBe(true);
  });

  it("reports hostile layers, missing images and bad flags in one line", async () => {
    const hostile = await layoutOf([{ name: "../../etc/passwd", content: "x" }]);
    const h = await run(["sbom", "-i", `oci:${hostile}:t`]);
    expect(h.code).toBe(6);
    expect(h.stderr).toMatch(
      /^\[error\] layer sha256:[0-9a-f]{64} \(1\/1\) of oci:.*: entry "\.\.\/\.\.\/etc\/passwd": path contains "\.\." \(path traversal\)\n$/,
    );
    const missing = await run(["sbom", "-i", `oci:${join(scratch, "nope")}`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^\[error\] .*is not an OCI image layout.*\n$/);
    const unreachable = await run(["sbom", "-i", "registry.invalid/library/nginx:1.25"]);
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toMatch(/^\[error\] [^\n]*registry\.invalid[^\n]*\n$/);
    const badFormat = await run(["sbom", "-i", "oci:x", "-f", "spdx"]);
    expect(badFormat.code).toBe(2);
  });
});
