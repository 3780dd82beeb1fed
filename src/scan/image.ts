import type { Credentials } from "../auth/credentials.js";
import { OcipatchError } from "../errors.js";
import { formatPlatform, parsePlatform } from "../image/platform.js";
import { readInventory } from "../inventory/read.js";
import type { Inventory } from "../inventory/types.js";
import type { LayerIndexCache } from "../rootfs/index-cache.js";
import { openImage } from "../transport/index.js";
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

/** `-u/-p` as credentials: both or neither. */
export function credentialsFrom(
  username: string | undefined,
  password: string | undefined,
): Credentials | undefined {
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    throw new OcipatchError("USAGE", "give both a username and a password, or neither", {
      details: { option: ["username", "password"] },
    });
  }
  return { username, password };
}

/** Open an image (any transport) and read its package inventory from its layers. */
export async function inventoryForImage(
  spec: ImageSpec,
  opts: { signal?: AbortSignal; indexCache?: LayerIndexCache | undefined } = {},
): Promise<ImageInventory> {
  const image = await openImage(spec.reference, {
    platform: spec.platform === undefined ? undefined : parsePlatform(spec.platform),
    credentials: credentialsFrom(spec.username, spec.password),
    insecure: spec.insecure,
    signal: opts.signal,
  });
  const config = await image.configFile(opts);
  const inventory = await readInventory(image, {
    unsupported: "warn",
    ...(opts.indexCache ? { indexCache: opts.indexCache } : {}),
  });
  return {
    inventory,
    target: {
      type: "image",
      reference: spec.reference,
      digest: image.digest,
      platform: formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant }),
    },
  };
}
