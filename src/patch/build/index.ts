// placeholder until the layer builder lands (branch `build`)
import { OcipatchError } from "../../errors.js";
import type { BuildPatchLayerInput, BuildPatchLayerResult } from "./types.js";

export * from "./types.js";

export async function buildPatchLayer(_input: BuildPatchLayerInput): Promise<BuildPatchLayerResult> {
  throw new OcipatchError("UNSUPPORTED", "the patch layer builder is not integrated yet");
}
