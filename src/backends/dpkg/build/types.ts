import type { KeptConffile, PatchedPackage, PatchLayer } from "../../types.js";

/** The dpkg builder's result: the neutral patch layer. */
export type BuildPatchLayerResult = PatchLayer;
export type { KeptConffile, PatchedPackage };
