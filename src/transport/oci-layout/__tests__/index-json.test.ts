import { describe, expect, it } from "vitest";
import type { Descriptor } from "../../../image/manifest.js";
import type { Digest } from "../../../util/digest.js";
import { addToLayoutIndex, isValidRefName } from "../index-json.js";
import { REF_NAME_ANNOTATION } from "../layout.js";

const d = (c: string): Descriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${c.repeat(64)}` as Digest,
  size: 10,
});

describe("addToLayoutIndex", () => {
  it("keeps unknown fields and other annotations when a tag moves", () => {
    const doc = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      annotations: { keep: "me" },
      manifests: [{ ...d("a"), annotations: { [REF_NAME_ANNOTATION]: "t", "org.example": "x" }, extra: 1 }],
    };
    const out = addToLayoutIndex(doc, d("b"), "t");
    expect(out["mediaType"]).toBe(doc.mediaType);
    expect(out["annotations"]).toEqual({ keep: "me" });
    expect(out["manifests"]).toEqual([
      { ...d("a"), annotations: { "org.example": "x" }, extra: 1 },
      { ...d("b"), annotations: { [REF_NAME_ANNOTATION]: "t" } },
    ]);
    // the input document is not modified
    expect(doc.manifests[0]!.annotations[REF_NAME_ANNOTATION]).toBe("t");
  });

  it("does not list an already listed manifest again when no tag is given", () => {
    const doc = { schemaVersion: 2, manifests: [{ ...d("a"), annotations: { [REF_NAME_ANNOTATION]: "t" } }] };
    expect(addToLayoutIndex(doc, d("a"))["manifests"]).toEqual(doc.manifests);
    expect((addToLayoutIndex(doc, d("c"))["manifests"] as unknown[]).length).toBe(2);
  });
});

describe("isValidRefName (image-spec ref.name grammar)", () => {
  it.each(["latest", "v1.0", "1.22-bookworm", "example.com/app:v1", "a--b", "sha256@x", "a+b"])(
    "accepts %s",
    (n) => expect(isValidRefName(n)).toBe(true),
  );
  it.each(["", "a b", "-a", "a-", "a//b", "/a", "a/", "ä"])("refuses %j", (n) =>
    expect(isValidRefName(n)).toBe(false),
  );
});
