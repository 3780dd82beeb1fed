import type { BackendPatcher } from "../types.js";
import { readApkWorld } from "./config.js";
import { fetchApks, trustPackage } from "./fetch.js";
import { buildApkLayer } from "./layer.js";
import { planApkUpgrades } from "./planner.js";
import { loadApkRepositories } from "./repositories.js";

export const apkPatcher: BackendPatcher = {
  async plan(req) {
    const repos = await loadApkRepositories(req.fs, req.platform, req.repositories, req.signal);
    // the packages of a verified index are trusted with the keys that verified it
    for (const idx of repos.indices) for (const e of idx.entries) trustPackage(e.checksum, repos.keys);
    const plan = planApkUpgrades({
      installed: req.inventory.packages,
      indices: repos.indices,
      targets: req.targets,
      mode: req.mode,
      ignoreErrors: req.ignoreErrors,
      world: await readApkWorld(req.fs),
    });
    return {
      plan: { ...plan, warnings: [...repos.warnings, ...plan.warnings] },
      indexBytes: repos.bytesFetched,
    };
  },

  fetch: fetchApks,
  buildLayer: buildApkLayer,
};
