import { OcipatchError } from "../errors.js";
import type { Inventory } from "../inventory/types.js";
import type { ScanTarget } from "./types.js";

/** Which image to scan, as the CLI received it. */
export interface ImageSpec {
  readonly reference: string;
  /** `os/arch[/variant]` */
  readonly platform?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly insecure?: boolean | undefined;
}

export interface ImageInventory {
  readonly inventory: Inventory;
  readonly target: ScanTarget;
}

/**
 * >>> INTEGRATION POINT <<<
 * Open an image and read its package inventory. The image → Inventory reader is
 * built in another branch; the integrator wires it here. Everything else in
 * `ocipatch scan --image` (database, matching, output) already works.
 */
export async function inventoryForImage(
  spec: ImageSpec,
  _opts: { signal?: AbortSignal } = {},
): Promise<ImageInventory> {
  throw new OcipatchError(
    "UNSUPPORTED",
    `scanning image ${spec.reference} is not wired yet (the image inventory reader is not integrated); use --from-report`,
  );
}
