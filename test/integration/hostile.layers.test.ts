/**
 * Layer count limit (issue 15): an image with more than MAX_LAYERS layers is refused before any
 * layer is read, by every command that reads an image, with one line. The image is written here:
 * one tiny layer listed MAX_LAYERS + 1 times (a manifest may repeat a layer).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_LAYERS } from "../../src/image/manifest.js";
import { writeLayerBlob } from "../harness/hostile-image.js";
import { MEDIA_MANIFEST, tagDescriptor, writeIndex, writeJsonBlob } from "../harness/oci-layout.js";
import { runCli, trackerDb } from "../harness/patch-support.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-hostile-layers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function imageWithLayerCount(count: number): string {
  const dir = join(work, `layers-${count}`);
  const layer = writeLayerBlob(dir, [
    { name: "etc/", type: "dir" },
    { name: "etc/hostname", type: "file", data: "x\n" },
  ]);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeIndex(dir, { schemaVersion: 2, manifests: [] });
  const config = writeJsonBlob(dir, "application/vnd.oci.image.config.v1+json", {
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: Array.from({ length: count }, () => layer.digest) },
  });
  const manifest = writeJsonBlob(dir, MEDIA_MANIFEST, {
    schemaVersion: 2,
    mediaType: MEDIA_MANIFEST,
    config,
    layers: Array.from({ length: count }, () => layer),
  });
  tagDescriptor(dir, "many", manifest);
  return `oci:${dir}:many`;
}

describe(`more than ${MAX_LAYERS} layers`, () => {
  it("is refused by scan, sbom, patch, copy and inspect with one line", async () => {
    const ref = imageWithLayerCount(MAX_LAYERS + 1);
    const db = ["--db-dir", await trackerDb(), "--skip-db-update"];
    const commands: string[][] = [
      ["scan", "-i", ref, ...db],
      ["sbom", "-i", ref],
      ["patch", "-i", ref, "--dry-run", ...db],
      ["copy", ref, `oci:${join(work, "copy-out")}:x`],
      ["inspect", ref],
    ];
    for (const argv of commands) {
      const r = await runCli(argv);
      expect(r.code, `${argv[0]}: ${r.stderr}`).toBe(9);
      expect(r.stderr, argv[0]).toContain(`has ${MAX_LAYERS + 1} layers, more than the ${MAX_LAYERS}`);
      expect(
        r.stderr.split("\n").filter((l) => l.startsWith("[error]")),
        argv[0],
      ).toHaveLength(1);
    }
  }, 300_000);

  it(`patching an image of ${MAX_LAYERS} layers is refused before any work: the patch layer would not fit`, async () => {
    const ref = imageWithLayerCount(MAX_LAYERS);
    const r = await runCli([
      "patch",
      "--push",
      "-i",
      ref,
      "-t",
      "out",
      "--db-dir",
      await trackerDb(),
      "--skip-db-update",
    ]);
    expect(r.code).not.toBe(0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toContain(`has ${MAX_LAYERS} layers: the patch layer would make ${MAX_LAYERS + 1}`);
  }, 300_000);

  it(`${MAX_LAYERS} layers are still read`, async () => {
    const r = await runCli(["inspect", imageWithLayerCount(MAX_LAYERS), "--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
  }, 300_000);
});
