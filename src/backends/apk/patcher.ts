/** Patching Alpine (apk) images: signed APKINDEX → verified .apk files → one layer as `apk upgrade` leaves it. */
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { Plan } from "../../plan/types.js";
import type { ArtifactDownload, BackendPatcher } from "../types.js";
import { fetchApks, trustPackage } from "./fetch.js";
import { buildApkLayer } from "./layer.js";
import { planApkUpgrades } from "./planner.js";
import { loadApkRepositories } from "./repositories.js";

export const apkPatcher: BackendPatcher = {
  async plan(req) {
    try {
      const repos = await loadApkRepositories(req.fs, req.platform, req.repositories, req.signal);
      // the packages of a verified index are trusted with the keys that verified it
      for (const idx of repos.indices) for (const e of idx.entries) trustPackage(e.checksum, repos.keys);
      const plan = planApkUpgrades({
        installed: req.inventory.packages,
        indices: repos.indices,
        targets: req.targets,
        mode: req.mode,
        ignoreErrors: req.ignoreErrors,
      });
      return {
        plan: { ...plan, warnings: [...repos.warnings, ...plan.warnings] },
        indexBytes: repos.bytesFetched,
      };
    } catch (e) {
      if (isOcipatchError(e)) throw e;
      throw new OcipatchError("RESOLVE", `planning failed: ${(e as Error).message}`, { cause: e });
    }
  },

  artifacts(plan: Plan): ArtifactDownload[] {
    return [...plan.updates, ...plan.newPackages].map((u) => ({
      package: u.package,
      architecture: u.architecture,
      version: u.targetVersion,
      url: u.url,
      sha256: u.sha256,
      size: u.size,
      checksum: u.checksum,
    }));
  },

  fetch: fetchApks,
  buildLayer: buildApkLayer,
};
