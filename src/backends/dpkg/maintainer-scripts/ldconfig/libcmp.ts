/**
 * glibc's `_dl_cache_libcmp` (elf/dl-cache.c): runs of digits compare as
 * numbers, other bytes as (signed, on x86) chars. The cache is sorted with it
 * and ldconfig uses it to pick the newest of two files with the same soname.
 * C `int` arithmetic is reproduced (wrapping on absurdly long digit runs).
 */
export function dlCacheLibcmp(a: Buffer, b: Buffer, signedChar = true): number {
  const at = (s: Buffer, i: number) => {
    const c = i < s.length ? s[i]! : 0;
    return signedChar && c > 127 ? c - 256 : c;
  };
  const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
  let i = 0;
  let j = 0;
  while (at(a, i) !== 0) {
    const c1 = at(a, i);
    const c2 = at(b, j);
    if (isDigit(c1)) {
      if (!isDigit(c2)) return 1;
      let v1 = c1 - 0x30;
      let v2 = c2 - 0x30;
      i++;
      j++;
      while (isDigit(at(a, i))) v1 = (Math.imul(v1, 10) + at(a, i++) - 0x30) | 0;
      while (isDigit(at(b, j))) v2 = (Math.imul(v2, 10) + at(b, j++) - 0x30) | 0;
      if (v1 !== v2) return (v1 - v2) | 0;
    } else if (isDigit(c2)) {
      return -1;
    } else if (c1 !== c2) {
      return c1 - c2;
    } else {
      i++;
      j++;
    }
  }
  return at(a, i) - at(b, j);
}
