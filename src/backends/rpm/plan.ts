/**
 * BackendPatcher.plan for rpm: the image's (or `--repository`) repositories verified and read,
 * their packages trusted for fetching with their repository's keys, then the plan.
 */
import type { PlanOutcome, PlanRequest } from "../types.js";
import { trustRpmPackages } from "./fetch.js";
import { planRpmUpgrades } from "./planner.js";
import { loadRpmRepositories } from "./repositories.js";

export async function planRpm(req: PlanRequest): Promise<PlanOutcome> {
  const loaded = await loadRpmRepositories(req.fs, req.platform, req.repositories, req.signal, {
    installed: req.inventory.packages,
    versionId: req.inventory.os.versionId,
  });
  trustRpmPackages(loaded.repos);
  const plan = planRpmUpgrades({
    installed: req.inventory.packages,
    repos: loaded.repos,
    targets: req.targets,
    mode: req.mode,
    ignoreErrors: req.ignoreErrors,
  });
  return {
    plan: { ...plan, warnings: [...loaded.warnings, ...plan.warnings] },
    indexBytes: loaded.bytesFetched,
  };
}
