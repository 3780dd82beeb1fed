import type { BackendPatcher } from "../types.js";
import { debianArchitecture } from "./apt/architecture.js";
import { imageKeyringFiles, readAptFiles } from "./apt-files.js";
import { buildPatchLayer } from "./build/index.js";
import { downloadDebs } from "./download.js";
import { planForImage } from "./plan/plan-for-image.js";

/** Patching Debian-family images: apt repositories → verified .debs → one layer as `dpkg -i` leaves it. */
export const dpkgPatcher: BackendPatcher = {
  async plan(req) {
    const aptFiles = await readAptFiles(req.fs);
    const repos = req.repositories;
    const result = await planForImage({
      inventory: req.inventory,
      architecture: debianArchitecture(req.platform.architecture, req.platform.variant),
      aptFiles,
      imageKeyrings: imageKeyringFiles(req.fs, aptFiles.keyrings),
      mode: req.mode,
      ...(repos.suites ? { suites: repos.suites } : {}),
      targets: req.targets,
      ignoreErrors: req.ignoreErrors,
      ...(repos.config ? { config: repos.config } : {}),
      client: {
        ...(repos.cacheDir ? { cacheDir: repos.cacheDir } : {}),
        ...(repos.offline ? { offline: true } : {}),
        ...(req.signal ? { http: { signal: req.signal } } : {}),
      },
      ...(req.progress ? { progress: req.progress } : {}),
    });
    return { plan: result.plan, indexBytes: result.stats.bytesDownloaded };
  },

  fetch(items, req) {
    return downloadDebs(items, {
      cacheDir: req.cacheDir,
      concurrency: req.concurrency,
      signal: req.signal,
      progress: req.progress,
      onVanished: "collect",
      onPlanned: req.onPlanned,
    });
  },

  buildLayer: buildPatchLayer,
};
