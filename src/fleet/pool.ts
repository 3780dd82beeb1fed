/**
 * Run `work` over `items` with at most `concurrency` at a time, in list order. Every item
 * runs (a rejected one does not stop the others; `work` reports its own failure); after an
 * abort no new item starts. Resolves when all started items have ended.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number, slot: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const slots = Math.max(1, Math.min(concurrency, items.length));
  const worker = async (slot: number): Promise<void> => {
    for (;;) {
      if (signal?.aborted) return;
      const i = next++;
      if (i >= items.length) return;
      try {
        await work(items[i]!, i, slot);
      } catch {
        // the caller records failures; the pool keeps going
      }
    }
  };
  await Promise.all(Array.from({ length: slots }, (_, slot) => worker(slot)));
}
