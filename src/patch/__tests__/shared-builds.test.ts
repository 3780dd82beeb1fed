import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PatchLayer } from "../../backends/types.js";
import type { QueryRecord } from "../../rootfs/index.js";
import { SharedBuilds, type SharedView } from "../shared-builds.js";

const dir = mkdtempSync(join(tmpdir(), "ocipatch-shared-builds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A view of layers by diffID; `touching` are the layers that would change what a build read. */
function view(diffIds: string[], touching: string[] = []): SharedView {
  return {
    layers: diffIds.map((diffId) => ({ diffId })),
    recordQueries: () => ({
      lookups: new Set(),
      missing: new Set(),
      implied: new Map(),
      listings: new Set(),
    }),
    stopRecording: (_r: QueryRecord) => undefined,
    layerAffects: async (i) => touching.includes(diffIds[i]!),
  };
}

const layer = (name: string) => ({ name }) as unknown as PatchLayer;

describe("SharedBuilds", () => {
  it("reuses a build for the same inputs when the differing layers touch nothing it read", async () => {
    const s = new SharedBuilds(dir);
    let builds = 0;
    const build = (name: string) => async () => {
      builds++;
      return layer(name);
    };
    // base layers b1 b2 are read by the build; the apps' own layers are not
    const a = await s.build("k", view(["b1", "b2", "appA"], ["b1", "b2"]), build("A"));
    expect(a).toEqual({ layer: layer("A"), reused: false });
    const b = await s.build("k", view(["b1", "b2", "appB"], ["b1", "b2"]), build("B"));
    expect(b).toEqual({ layer: layer("A"), reused: true });
    // other inputs: built again
    expect((await s.build("other", view(["b1", "b2", "appB"], ["b1", "b2"]), build("C"))).reused).toBe(false);
    // a differing layer that touches the reads: built again
    const d = await s.build("k", view(["b1", "b2", "appD"], ["b1", "b2", "appD"]), build("D"));
    expect(d).toEqual({ layer: layer("D"), reused: false });
    // a different base below: built again
    expect((await s.build("k", view(["b9", "b2", "appE"], ["b9", "b2"]), build("E"))).reused).toBe(false);
    expect(builds).toBe(4);
  });

  it("waits for a build in progress; when it fails, builds itself", async () => {
    const s = new SharedBuilds(dir);
    let fail!: (e: Error) => void;
    const first = s.build(
      "k",
      view(["b", "x"], ["b"]),
      () => new Promise<PatchLayer>((_, reject) => (fail = reject)),
    );
    const second = s.build("k", view(["b", "y"], ["b"]), async () => layer("second"));
    fail(new Error("cancelled"));
    await expect(first).rejects.toThrow("cancelled");
    expect(await second).toEqual({ layer: layer("second"), reused: false });
  });
});
