import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PatchLayer } from "../../backends/types.js";
import type { InstalledPackage, Inventory } from "../../inventory/types.js";
import type { QueryRecord } from "../../rootfs/index.js";
import { buildKey, SharedBuilds, type SharedView } from "../shared-builds.js";

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

  it("a wait for another image's build honours the waiter's signal", async () => {
    const s = new SharedBuilds(dir);
    void s.build("k", view(["b", "x"], ["b"]), () => new Promise<PatchLayer>(() => undefined));
    const ac = new AbortController();
    const waiting = s.build("k", view(["b", "y"], ["b"]), async () => layer("y"), ac.signal);
    ac.abort(new Error("timeout"));
    await expect(waiting).rejects.toThrow("timeout");
  });

  it("of images waiting for a build they cannot reuse, one builds and the others reuse its layer", async () => {
    const s = new SharedBuilds(dir);
    let builds = 0;
    let finishD!: () => void;
    const d = s.build("k", view(["b", "d"], ["b", "d"]), async () => {
      builds++;
      await new Promise<void>((r) => (finishD = r));
      return layer("D");
    });
    const u1 = s.build("k", view(["b", "u1"], ["b"]), async () => {
      builds++;
      return layer("U1");
    });
    const u2 = s.build("k", view(["b", "u2"], ["b"]), async () => {
      builds++;
      return layer("U2");
    });
    finishD();
    const [rd, r1, r2] = await Promise.all([d, u1, u2]);
    expect(rd.reused).toBe(false);
    expect([r1.reused, r2.reused].sort()).toEqual([false, true]);
    expect(r1.layer).toEqual(r2.layer);
    expect(builds).toBe(2);
  });
});

describe("buildKey", () => {
  const installed = (held: boolean): InstalledPackage => ({
    name: "musl",
    version: "1.2.5-r8",
    architecture: "x86_64",
    sourceName: "musl",
    sourceVersion: "1.2.5-r8",
    held,
    dbPath: "/lib/apk/db/installed",
    native: undefined,
  });
  const key = (held: boolean, replaces: InstalledPackage[] = []) =>
    buildKey("apk", {
      inventory: { os: { id: "alpine", versionId: "3.21" } } as Inventory,
      packages: [
        {
          package: "musl",
          architecture: "x86_64",
          path: "/c/musl.apk",
          installed: installed(held),
          replaces,
        },
      ],
      compression: "gzip",
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    });

  it("tells builds apart by what the inventory says beyond the files read: held flags, replaced packages", () => {
    expect(key(false)).toBe(key(false));
    expect(key(true)).not.toBe(key(false));
    expect(key(false, [installed(false)])).not.toBe(key(false));
  });
});
