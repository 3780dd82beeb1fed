/**
 * OCI referrers against Debian's docker-registry, which has no referrers API: artifacts are
 * found through the referrers tag schema (`sha256-<hex>` index), checked with skopeo.
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { MediaTypes } from "../../src/image/media-types.js";
import { parseReference } from "../../src/reference/reference.js";
import { attachArtifactToLayout, listLayoutReferrers } from "../../src/transport/oci-layout/index.js";
import {
  attachArtifact,
  EMPTY_DESCRIPTOR,
  listReferrers,
  referrersTag,
} from "../../src/transport/registry/index.js";
import { type Digest, sha256 } from "../../src/util/digest.js";
import {
  buildImage,
  pushTestImage,
  randomLayer,
  run,
  sha256Hex,
  skopeoCopy,
  skopeoInspectRaw,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");
const authReg = inject("authRegistry");
const auth = { username: authReg.username, password: authReg.password };

const VEX_TYPE = "application/openvex+json";
const vexBytes = (id: string) =>
  Buffer.from(
    JSON.stringify({
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": `https://example.invalid/vex-${id}`,
      author: "ocipatch tests",
      timestamp: "2026-01-01T00:00:00Z",
      version: 1,
      statements: [{ vulnerability: { name: id }, status: "fixed" }],
    }),
  );

describe("referrers on a registry without the referrers API", () => {
  it("attaches a VEX to a pushed image; skopeo sees the artifact and the tag schema index", async () => {
    const ref = `${reg.host}/${uniqueRepo("referrers")}:v1`;
    const pushed = await pushTestImage(ref, { layers: [randomLayer(2000)] });
    const vex = vexBytes("CVE-2024-0001");

    const res = await attachArtifact(ref, {
      artifactType: VEX_TYPE,
      blob: vex,
      mediaType: VEX_TYPE,
      annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
      blobAnnotations: { "org.opencontainers.image.title": "vex.json" },
    });
    expect(res.method).toBe("tag");
    expect(res.subject.digest).toBe(pushed.digest);
    expect(res.subject.size).toBe(pushed.manifest.length);
    expect(res.tag).toBe(`sha256-${pushed.digest.slice("sha256:".length)}`);
    expect(res.tag).toBe(referrersTag(pushed.digest as Digest));

    // the artifact manifest as the registry stores it
    const r = parseReference(ref);
    const artifactRaw = await skopeoInspectRaw(`${r.registry}/${r.repository}@${res.descriptor.digest}`);
    expect(`sha256:${sha256Hex(artifactRaw)}`).toBe(res.descriptor.digest);
    expect(artifactRaw.length).toBe(res.descriptor.size);
    const artifact = JSON.parse(artifactRaw.toString("utf8"));
    expect(artifact.mediaType).toBe(MediaTypes.ociManifest);
    expect(artifact.artifactType).toBe(VEX_TYPE);
    expect(artifact.config).toEqual(EMPTY_DESCRIPTOR);
    expect(artifact.config.digest).toBe(
      "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    );
    expect(artifact.subject).toEqual({
      mediaType: MediaTypes.ociManifest,
      digest: pushed.digest,
      size: pushed.manifest.length,
    });
    expect(artifact.layers).toEqual([
      {
        mediaType: VEX_TYPE,
        digest: sha256(vex),
        size: vex.length,
        annotations: { "org.opencontainers.image.title": "vex.json" },
      },
    ]);

    // the fallback tag holds an index listing the artifact
    const indexRaw = await skopeoInspectRaw(`${r.registry}/${r.repository}:${res.tag}`);
    const index = JSON.parse(indexRaw.toString("utf8"));
    expect(index.mediaType).toBe(MediaTypes.ociIndex);
    expect(index.manifests).toEqual([
      {
        mediaType: MediaTypes.ociManifest,
        digest: res.descriptor.digest,
        size: res.descriptor.size,
        artifactType: VEX_TYPE,
        annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
      },
    ]);

    const listed = await listReferrers(ref, pushed.digest as Digest);
    expect(listed.method).toBe("tag");
    expect(listed.referrers).toEqual(index.manifests);
  });

  it("attaching twice keeps both entries; the same artifact again adds nothing", async () => {
    const ref = `${reg.host}/${uniqueRepo("referrers")}:v1`;
    const pushed = await pushTestImage(ref);
    const digest = pushed.digest as Digest;
    const a = await attachArtifact(ref, { artifactType: VEX_TYPE, blob: vexBytes("A"), mediaType: VEX_TYPE });
    const b = await attachArtifact(
      `${parseReference(ref).registry}/${parseReference(ref).repository}@${digest}`,
      {
        artifactType: "application/sarif+json",
        blob: Buffer.from('{"version":"2.1.0","runs":[]}'),
        mediaType: "application/sarif+json",
      },
    );
    expect(b.descriptor.digest).not.toBe(a.descriptor.digest);
    const again = await attachArtifact(ref, {
      artifactType: VEX_TYPE,
      blob: vexBytes("A"),
      mediaType: VEX_TYPE,
    });
    expect(again.descriptor).toEqual(a.descriptor);

    const r = parseReference(ref);
    const index = JSON.parse(
      (await skopeoInspectRaw(`${r.registry}/${r.repository}:${referrersTag(digest)}`)).toString("utf8"),
    );
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([
      a.descriptor.digest,
      b.descriptor.digest,
    ]);

    const all = await listReferrers(ref, digest);
    expect(all.referrers.map((d) => d.digest)).toEqual([a.descriptor.digest, b.descriptor.digest]);
    const onlyVex = await listReferrers(ref, digest, { artifactType: VEX_TYPE });
    expect(onlyVex.referrers.map((d) => d.digest)).toEqual([a.descriptor.digest]);
  });

  it("lists nothing for an image without referrers", async () => {
    const ref = `${reg.host}/${uniqueRepo("referrers")}:v1`;
    const pushed = await pushTestImage(ref);
    const listed = await listReferrers(ref, pushed.digest as Digest);
    expect(listed).toEqual({ referrers: [], method: "tag" });
  });

  it("works with credentials on the auth registry", async () => {
    const ref = `${authReg.host}/${uniqueRepo("referrers")}:v1`;
    const pushed = await pushTestImage(ref, { auth });
    const res = await attachArtifact(
      ref,
      { artifactType: VEX_TYPE, blob: vexBytes("B"), mediaType: VEX_TYPE },
      { credentials: auth },
    );
    const listed = await listReferrers(ref, pushed.digest as Digest, { credentials: auth });
    expect(listed.referrers.map((d) => d.digest)).toEqual([res.descriptor.digest]);
    await expect(listReferrers(ref, pushed.digest as Digest, { env: {} })).rejects.toMatchObject({
      code: "AUTH_FAILED",
    });
  });

  it("refuses a subject that does not exist, and a tag schema tag that is not an index", async () => {
    const ref = `${reg.host}/${uniqueRepo("referrers")}:v1`;
    await expect(
      attachArtifact(ref, { artifactType: VEX_TYPE, blob: vexBytes("C"), mediaType: VEX_TYPE }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });

    // an image pushed under the fallback tag of another image must not be overwritten
    const target = await pushTestImage(`${reg.host}/${uniqueRepo("referrers")}:v1`);
    const r = parseReference(target.ref);
    await pushTestImage(`${r.registry}/${r.repository}:${referrersTag(target.digest as Digest)}`);
    await expect(
      attachArtifact(target.ref, { artifactType: VEX_TYPE, blob: vexBytes("D"), mediaType: VEX_TYPE }),
    ).rejects.toMatchObject({ code: "REGISTRY", message: expect.stringContaining("not a referrers index") });
  });
});

describe("referrers in an OCI layout", () => {
  const work: string[] = [];
  afterAll(async () => {
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("adds the artifact to index.json; skopeo still copies the tagged image; attaching again changes nothing", async () => {
    const dir = await tempDir();
    work.push(dir);
    const img = await buildImage(dir, { layers: [randomLayer(1000)], tag: "v1" });
    const index = () => JSON.parse(readFileSync(join(img.layout, "index.json"), "utf8"));
    const subject = index().manifests[0];
    const vex = vexBytes("CVE-2024-0002");
    const desc = await attachArtifactToLayout(img.layout, subject.digest, {
      artifactType: VEX_TYPE,
      blob: vex,
      mediaType: VEX_TYPE,
    });
    const entries = index().manifests;
    expect(entries).toHaveLength(2);
    expect(entries[1]).toEqual({
      mediaType: MediaTypes.ociManifest,
      digest: desc.digest,
      size: desc.size,
      artifactType: VEX_TYPE,
    });
    const artifact = JSON.parse(readFileSync(join(img.layout, "blobs/sha256", desc.digest.slice(7)), "utf8"));
    expect(artifact.subject).toEqual({
      mediaType: subject.mediaType,
      digest: subject.digest,
      size: subject.size,
    });
    expect(readFileSync(join(img.layout, "blobs/sha256", sha256(vex).slice(7)))).toEqual(vex);

    expect(await listLayoutReferrers(img.layout, subject.digest)).toEqual([entries[1]]);
    expect(await listLayoutReferrers(img.layout, subject.digest, { artifactType: "other" })).toEqual([]);

    // the layout is still valid for the tools: skopeo copies the tagged image, umoci unpacks it
    await skopeoCopy(`oci:${img.layout}:v1`, `oci:${join(dir, "copy")}:v1`);
    await run("umoci", ["unpack", "--rootless", "--image", `${img.layout}:v1`, join(dir, "bundle")]);

    await attachArtifactToLayout(img.layout, subject.digest, {
      artifactType: VEX_TYPE,
      blob: vex,
      mediaType: VEX_TYPE,
    });
    expect(index().manifests).toEqual(entries);
    await expect(
      attachArtifactToLayout(img.layout, `sha256:${"0".repeat(64)}` as Digest, {
        artifactType: VEX_TYPE,
        blob: vex,
        mediaType: VEX_TYPE,
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
