import type { FleetConfig } from "./config.js";
import { describeFailure, expandFleet, type FleetJob } from "./expand.js";
import { runPool } from "./pool.js";
import type { TagLister } from "./select-tags.js";
import { type Shard, shardOf } from "./shard.js";
import { errorRecord, type FleetImageResult } from "./summary.js";

export type FleetOutcome = Pick<
  FleetImageResult,
  "status" | "digest" | "fixableBefore" | "fixableAfter" | "upgraded"
>;

export type FleetEvent =
  | {
      readonly kind: "planned";
      readonly total: number;
      readonly mine: number;
      readonly shard: Shard | undefined;
    }
  | { readonly kind: "start"; readonly job: FleetJob; readonly slot: number }
  | { readonly kind: "done"; readonly result: FleetImageResult; readonly done: number; readonly of: number };

export interface RunFleetOptions {
  readonly config: FleetConfig;
  readonly listTags: TagLister;
  /** Patch one image; a throw is that image's failure. */
  readonly patch: (job: FleetJob, slot: number) => Promise<FleetOutcome>;
  /** Images patched at the same time (default 2). */
  readonly jobs?: number | undefined;
  readonly shard?: Shard | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((e: FleetEvent) => void) | undefined;
  readonly now?: () => number;
}

export interface FleetRun {
  /** This shard's images in list order, then the entries whose tags could not be discovered. */
  readonly results: readonly FleetImageResult[];
  readonly warnings: readonly string[];
  /** Images of the whole fleet (all shards). */
  readonly total: number;
}

/**
 * Expand the config (tag discovery), take this shard's share of the sorted list and patch it
 * with a bounded pool. One image's failure is recorded and the others go on; images not
 * started before an abort are reported as failed (cancelled).
 */
export async function runFleet(opts: RunFleetOptions): Promise<FleetRun> {
  const now = opts.now ?? Date.now;
  const expanded = await expandFleet(opts.config, opts.listTags);
  const mine = shardOf(expanded.jobs, opts.shard);
  opts.onEvent?.({ kind: "planned", total: expanded.jobs.length, mine: mine.length, shard: opts.shard });
  const results: (FleetImageResult | undefined)[] = new Array(mine.length);
  let done = 0;
  await runPool(
    mine,
    opts.jobs ?? 2,
    async (job, i, slot) => {
      const started = now();
      opts.onEvent?.({ kind: "start", job, slot });
      let result: FleetImageResult;
      try {
        const outcome = await opts.patch(job, slot);
        result = {
          name: job.name,
          source: job.source,
          destination: job.destination,
          ...outcome,
          durationMs: now() - started,
        };
      } catch (e) {
        result = {
          name: job.name,
          source: job.source,
          destination: job.destination,
          status: "failed",
          durationMs: now() - started,
          error: errorRecord(e),
        };
      }
      results[i] = result;
      opts.onEvent?.({ kind: "done", result, done: ++done, of: mine.length });
    },
    opts.signal,
  );
  const all: FleetImageResult[] = mine.map(
    (job, i) =>
      results[i] ?? {
        name: job.name,
        source: job.source,
        destination: job.destination,
        status: "failed",
        durationMs: 0,
        error: { code: "CANCELLED", message: "not started: the run was cancelled" },
      },
  );
  for (const f of expanded.failures) {
    all.push({
      name: f.name,
      source: f.repository,
      destination: undefined,
      status: "failed",
      durationMs: 0,
      error: { ...errorRecord(f.error), message: describeFailure(f) },
    });
  }
  return { results: all, warnings: expanded.warnings, total: expanded.jobs.length };
}
