import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import type { BuildLayerRequest, PatchLayer } from "../backends/types.js";
import type { InstalledPackage } from "../inventory/types.js";
import type { QueryRecord } from "../rootfs/index.js";
import { abortable } from "../util/abortable.js";

/** A build other images of the run may reuse. */
interface Recorded {
  readonly key: string;
  readonly done: Promise<Done | undefined>;
}

interface Done {
  readonly layer: PatchLayer;
  /** diffIDs of the view it was built against, bottom to top. */
  readonly diffIds: readonly string[];
  /** Per layer of that view: could it change what the build read? */
  readonly affects: readonly boolean[];
  readonly reads: QueryRecord;
}

/** What a build key says of an installed package the build upgrades or replaces (here and in the layer cache). */
export function installedKey(p: InstalledPackage): unknown[] {
  return [p.name, p.architecture, p.version, p.dbPath, p.held];
}

/** What a build's result depends on besides the files it reads from the image. */
export function buildKey(
  backend: string,
  req: Omit<BuildLayerRequest, "fs" | "layerPath" | "signal">,
): string {
  return JSON.stringify({
    backend,
    compression: req.compression,
    manifestMediaType: req.manifestMediaType,
    now: req.now?.toISOString() ?? null,
    platform: [req.platform.os, req.platform.architecture, req.platform.variant ?? null],
    os: [req.inventory.os.id, req.inventory.os.versionId ?? null],
    // held flags and replaced packages come from the inventory, not from a file the build reads
    packages: req.packages.map((p) => [
      p.package,
      p.architecture,
      p.path,
      p.installed ? installedKey(p.installed) : null,
      (p.replaces ?? []).map(installedKey),
    ]),
  });
}

/**
 * Patch layers built during one run (a fleet), so that an image needing the same layer as
 * another one reuses it instead of building it again. Reuse is decided by what the first build
 * read: its inputs must be the same (`buildKey`), and the layers in which the two images differ
 * must have nothing at any path the build looked at (or listed, or above them). The layer files
 * live in the run's own directory, which outlives each image's scratch space.
 */
export class SharedBuilds {
  private readonly builds: Recorded[] = [];

  constructor(private readonly dir: string) {}

  /** A new, not yet existing file path for a layer. */
  async layerPath(): Promise<string> {
    return join(await mkdtemp(join(this.dir, "layer-")), "layer.tar");
  }

  /**
   * The layer for `view` with these inputs: a reusable earlier build's (waiting for one in
   * progress, as long as `signal` allows), or `build()` run now with its reads recorded.
   */
  async build(
    key: string,
    view: SharedView,
    build: () => Promise<PatchLayer>,
    signal?: AbortSignal,
  ): Promise<{ layer: PatchLayer; reused: boolean }> {
    // builds registered while this one waits are looked at too (the array grows): of several
    // images waiting for a build they cannot reuse, the first to go on builds and the others wait for it
    for (let i = 0; i < this.builds.length; i++) {
      const b = this.builds[i]!;
      if (b.key !== key) continue;
      const done = await abortable(b.done, signal);
      if (done && (await reusable(done, view))) return { layer: done.layer, reused: true };
    }
    let settle!: (d: Done | undefined) => void;
    this.builds.push({
      key,
      done: new Promise((resolve) => {
        settle = resolve;
      }),
    });
    const reads = view.recordQueries();
    try {
      const layer = await build();
      view.stopRecording(reads);
      const affects: boolean[] = [];
      for (let i = 0; i < view.layers.length; i++) affects.push(await view.layerAffects(i, reads));
      settle({ layer, diffIds: view.layers.map((l) => l.diffId), affects, reads });
      return { layer, reused: false };
    } catch (e) {
      view.stopRecording(reads);
      settle(undefined);
      throw e;
    }
  }
}

/** The part of the image view sharing needs. */
export interface SharedView {
  readonly layers: readonly { readonly diffId: string }[];
  recordQueries(): QueryRecord;
  stopRecording(r: QueryRecord): void;
  layerAffects(i: number, r: QueryRecord): Promise<boolean>;
}

/** Same layers up to some height, and above it nothing (on either side) that the build read. */
async function reusable(done: Done, view: SharedView): Promise<boolean> {
  const mine = view.layers.map((l) => l.diffId);
  let k = 0;
  while (k < mine.length && k < done.diffIds.length && mine[k] === done.diffIds[k]) k++;
  for (let i = k; i < done.diffIds.length; i++) if (done.affects[i]) return false;
  for (let i = k; i < mine.length; i++) if (await view.layerAffects(i, done.reads)) return false;
  return true;
}
