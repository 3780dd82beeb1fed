/**
 * The index of the last of `starts` (ascending) that is at most `value`: the range holding `value`
 * when `starts` are where consecutive ranges begin. 0 when none is (or `starts` is empty).
 */
export function rangeAt(starts: readonly number[], value: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
