import { describe, expect, it } from "vitest";
import type { Inventory } from "../../inventory/types.js";
import { grypeBeforeAfter } from "../../report/__tests__/fixtures.js";
import { parseOpenVex } from "../../report/index.js";
import type { Digest } from "../../util/digest.js";
import type { PatchResult, PlatformResult } from "../patch-image.js";
import { plannedReferrers } from "../referrers.js";

const PATCHED = `sha256:${"d".repeat(64)}` as Digest;
const NOW = new Date("2026-03-01T12:00:00Z");

const inventory: Inventory = {
  os: {
    id: "debian",
    idLike: [],
    versionId: "10",
    codename: "buster",
    prettyName: "Debian GNU/Linux 10 (buster)",
    family: "debian",
    source: "etc/os-release",
  },
  packageManager: "dpkg",
  distroless: false,
  packages: [
    {
      name: "libssl1.1",
      version: "1.1.1n-0+deb10u6",
      architecture: "amd64",
      sourceName: "openssl",
      sourceVersion: "1.1.1n-0+deb10u6",
      held: false,
      dbPath: "var/lib/dpkg/status",
      native: {
        backend: "dpkg",
        selection: "install ok installed",
        multiArch: "same",
        paragraph: {} as never,
      },
    },
  ],
  warnings: [],
};

function patched(destination: string): PatchResult {
  const { before, after } = grypeBeforeAfter();
  const platform = {
    platform: "linux/amd64",
    sourceDigest: PATCHED,
    baseDigest: PATCHED,
    replacedPreviousLayer: false,
    status: "patched",
    before,
    after,
    afterInventory: inventory,
    patchedDigest: PATCHED,
    plan: { updates: [], newPackages: [], unresolved: [], warnings: [] },
    indexBytes: 0,
  } as unknown as PlatformResult;
  return {
    status: "patched",
    source: "registry.example:5000/web/nginx:1.22",
    sourceDigest: PATCHED,
    destination,
    written: { digest: PATCHED, mediaType: "", size: 0, location: destination, stats: {} as never },
    platforms: [platform],
  };
}

describe("plannedReferrers", () => {
  it("a VEX in-toto statement (announced as OpenVEX) and a CycloneDX SBOM of the patched packages", () => {
    const [vex, sbom, ...rest] = plannedReferrers(
      patched("registry.example:5000/web/nginx:1.22-patched"),
      NOW,
    );
    expect(rest).toEqual([]);
    expect(vex!.kind).toBe("vex");
    expect(vex!.subject).toBe(PATCHED);
    expect(vex!.artifact.artifactType).toBe("application/vnd.in-toto+json");
    expect(vex!.artifact.mediaType).toBe("application/vnd.in-toto+json");
    expect(vex!.artifact.annotations?.["in-toto.io/predicate-type"]).toBe("https://openvex.dev/ns/v0.2.0");
    expect(vex!.artifact.blobAnnotations?.["in-toto.io/predicate-type"]).toBe(
      "https://openvex.dev/ns/v0.2.0",
    );
    const st = JSON.parse(Buffer.from(vex!.artifact.blob).toString("utf8")) as {
      _type: string;
      subject: unknown;
      predicateType: string;
      predicate: unknown;
    };
    expect(st._type).toBe("https://in-toto.io/Statement/v1");
    expect(st.predicateType).toBe("https://openvex.dev/ns/v0.2.0");
    expect(st.subject).toEqual([
      { name: "registry.example:5000/web/nginx", digest: { sha256: "d".repeat(64) } },
    ]);
    // the predicate is a valid OpenVEX document
    expect(parseOpenVex(st.predicate, "predicate").statements.length).toBeGreaterThan(0);

    expect(sbom!.kind).toBe("sbom");
    expect(sbom!.artifact.artifactType).toBe("application/vnd.cyclonedx+json");
    const bom = JSON.parse(Buffer.from(sbom!.artifact.blob).toString("utf8")) as {
      bomFormat: string;
      metadata: { timestamp: string; component: { version: string } };
      components: Array<{ name: string; version?: string }>;
    };
    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.metadata.component.version).toBe(PATCHED);
    expect(bom.metadata.timestamp).toBe(NOW.toISOString());
    expect(bom.components.find((c) => c.name === "libssl1.1")?.version).toBe("1.1.1n-0+deb10u6");
  });

  it("nothing for a dry run or when nothing was patched", () => {
    const r = patched("registry.example:5000/web/nginx:1.22-patched");
    expect(plannedReferrers({ ...r, status: "up-to-date", written: undefined }, NOW)).toEqual([]);
    expect(plannedReferrers({ ...r, status: "dry-run", written: undefined }, NOW)).toEqual([]);
  });
});
