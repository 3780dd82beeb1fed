import type { BackendPatcher } from "../types.js";
import { fetchRpms } from "./fetch.js";
import { assertWritableRpmdb, buildRpmLayer } from "./layer/layer.js";
import { planRpm } from "./plan.js";

/** The rpm backend's patching half: plan (plan.ts), fetch (fetch.ts), one layer (layer/). */
export const rpmPatcher: BackendPatcher = {
  async plan(req) {
    // a database ocipatch cannot write is refused before any repository is contacted
    assertWritableRpmdb(
      req.fs.description,
      req.inventory.packages.find((p) => p.dbPath !== undefined)?.dbPath,
    );
    return planRpm(req);
  },
  fetch: fetchRpms,
  buildLayer: buildRpmLayer,
};
