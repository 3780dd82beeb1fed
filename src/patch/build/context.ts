import { OcipatchError } from "../../errors.js";
import type { LayeredFs } from "../../rootfs/index.js";
import type { LayerWriter } from "../layer/layer-writer.js";
import type { PathFilter } from "./dpkg-filters.js";
import type { ImageDpkgDb } from "./image-db.js";
import type { Ownership } from "./ownership.js";
import type { TargetTree } from "./target-tree.js";

/** What every step of the build shares. */
export interface BuildContext {
  readonly fs: LayeredFs;
  readonly writer: LayerWriter;
  readonly tree: TargetTree;
  readonly db: ImageDpkgDb;
  readonly filters: readonly PathFilter[];
  readonly ownership: Ownership;
  readonly now: Date;
  readonly warnings: string[];
  readonly signal: AbortSignal | undefined;
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OcipatchError("CANCELLED", "building the patch layer was cancelled");
}
