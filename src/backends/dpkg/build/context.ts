import { OcipatchError } from "../../../errors.js";
import type { LayerWriter } from "../../../patch/layer/layer-writer.js";
import type { TargetTree } from "../../../patch/layer/target-tree.js";
import type { LayeredFs } from "../../../rootfs/index.js";
import type { ElfResult } from "../maintainer-scripts/ldconfig/index.js";
import type { PathFilter } from "./dpkg-filters.js";
import type { ImageDpkgDb } from "./image-db.js";
import type { Ownership } from "./ownership.js";

/** What every step of the build shares. */
export interface BuildContext {
  readonly fs: LayeredFs;
  readonly writer: LayerWriter;
  readonly tree: TargetTree;
  readonly db: ImageDpkgDb;
  readonly filters: readonly PathFilter[];
  readonly ownership: Ownership;
  readonly warnings: string[];
  readonly signal: AbortSignal | undefined;
  /** Whether the content of a file the layer writes (real path, relative) is kept for the native effects. */
  readonly capture: (rel: string) => boolean;
  /** Contents kept by `capture`, by real path. */
  readonly captured: Map<string, Buffer>;
  /** How ldconfig classifies each shared-library-named regular file the layer writes, by real path. */
  readonly libraries: Map<string, ElfResult>;
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OcipatchError("CANCELLED", "building the patch layer was cancelled");
}
