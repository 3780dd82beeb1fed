import { OcipatchError } from "../errors.js";

/** A shard `K/N`: this worker's share of N; K counts from 0 (as Kubernetes' `JOB_COMPLETION_INDEX`). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const usage = (why: string) =>
    new OcipatchError("USAGE", `the shard must be K/N with 0 <= K < N (K counts from 0): ${why}`, {
      details: { option: "shard" },
    });
  if (!m) throw usage(`got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw usage(`N must be at least 1, got "${text}"`);
  if (!Number.isSafeInteger(index) || index >= count) throw usage(`K must be below N, got "${text}"`);
  return { index, count };
}

/**
 * This shard's items: every N-th item of the list in its sorted order, starting at K. The
 * caller sorts (stable, by a key that names the item), so the N shards of the same list are
 * disjoint and together cover it, and their sizes differ by at most one.
 */
export function shardOf<T>(items: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...items];
  return items.filter((_, i) => i % shard.count === shard.index);
}
