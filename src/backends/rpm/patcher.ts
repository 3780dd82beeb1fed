import type { BackendPatcher } from "../types.js";
import { fetchRpms } from "./fetch.js";
import { buildRpmLayer } from "./layer/layer.js";
import { planRpm } from "./plan.js";

/** The rpm backend's patching half: plan (plan.ts), fetch (fetch.ts), one layer (layer/). */
export const rpmPatcher: BackendPatcher = {
  plan: planRpm,
  fetch: fetchRpms,
  buildLayer: buildRpmLayer,
};
