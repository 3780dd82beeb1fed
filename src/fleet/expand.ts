import { OcipatchError, oneLine } from "../errors.js";
import type { FleetConfig, FleetImageSpec } from "./config.js";
import { selectTags, type TagLister } from "./select-tags.js";
import { parseTagTemplate } from "./template.js";

/** One image to patch: a source tag and where its patched image goes. */
export interface FleetJob {
  /** The config entry's name. */
  readonly name: string;
  /** `registry/repository:tag` */
  readonly source: string;
  readonly sourceTag: string;
  /** `registry/repository:tag` of the patched image. */
  readonly destination: string;
  readonly platforms: readonly string[] | undefined;
}

/** An entry whose tags could not be discovered (a failure of the run, reported per entry). */
interface DiscoveryFailure {
  readonly name: string;
  readonly repository: string;
  readonly error: unknown;
}

export interface ExpandedFleet {
  /** Sorted by source, then destination: the order shards split. */
  readonly jobs: readonly FleetJob[];
  readonly failures: readonly DiscoveryFailure[];
  readonly warnings: readonly string[];
}

/** The patched repository: copa's rule, the target registry + the source's last path component. */
export function targetRepository(spec: Pick<FleetImageSpec, "repository" | "target">): string {
  if (spec.target.registry === undefined) return spec.repository;
  const last = spec.repository.slice(spec.repository.lastIndexOf("/") + 1);
  return `${spec.target.registry}/${last}`;
}

/** Discover every entry's tags and turn them into jobs (sorted, duplicates merged). */
export async function expandFleet(config: FleetConfig, list: TagLister): Promise<ExpandedFleet> {
  const jobs = new Map<string, FleetJob>();
  const byDestination = new Map<string, string>();
  const failures: DiscoveryFailure[] = [];
  const warnings: string[] = [];
  for (const spec of config.images) {
    let tags: readonly string[];
    try {
      const selected = await selectTags(spec.repository, spec.tags, list);
      warnings.push(...selected.warnings);
      tags = selected.tags;
    } catch (e) {
      failures.push({ name: spec.name, repository: spec.repository, error: e });
      continue;
    }
    const template = parseTagTemplate(spec.target.tag);
    const repo = targetRepository(spec);
    for (const tag of tags) {
      const source = `${spec.repository}:${tag}`;
      let destination: string;
      try {
        destination = `${repo}:${template.render(tag)}`;
      } catch (e) {
        failures.push({ name: spec.name, repository: source, error: e });
        continue;
      }
      if (destination === source) {
        throw new OcipatchError(
          "USAGE",
          `${spec.name}: the patched image ${destination} would replace its source (target.tag must differ from the source tag)`,
          { details: { option: "config" } },
        );
      }
      const other = byDestination.get(destination);
      if (other !== undefined && other !== source) {
        throw new OcipatchError(
          "USAGE",
          `${other} and ${source} would both be pushed to ${destination} (set a target per image)`,
          { details: { option: "config" } },
        );
      }
      byDestination.set(destination, source);
      const key = `${source}\n${destination}`;
      const seen = jobs.get(key);
      if (seen && String(seen.platforms) !== String(spec.platforms)) {
        warnings.push(`${source} is listed twice with different platforms; the first entry is used`);
        continue;
      }
      if (!seen)
        jobs.set(key, { name: spec.name, source, sourceTag: tag, destination, platforms: spec.platforms });
    }
  }
  const sorted = [...jobs.values()].sort((a, b) =>
    a.source < b.source ? -1 : a.source > b.source ? 1 : a.destination < b.destination ? -1 : 1,
  );
  return { jobs: sorted, failures, warnings };
}

export function describeFailure(f: DiscoveryFailure): string {
  return `cannot discover the tags of ${f.repository}: ${oneLine(f.error)}`;
}
